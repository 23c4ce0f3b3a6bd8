// Invocations numbered subgroup by subgroup, whatever order the device groups them in: a kernel's
// aligned runs of up to the subgroup size in numbers then lie in one subgroup, so shuffles reach
// them (prepended where the device has subgroups, src/kernels/expertMatmul.ts).
enable subgroups;

var<workgroup> placed: atomic<u32>;
var<private> subgroupLane: u32;  // this invocation's index in its subgroup

fn place(index: u32) -> u32 {
  let count = subgroupAdd(1u);
  var base = 0u;
  if (subgroupElect()) { base = atomicAdd(&placed, count); }
  subgroupLane = subgroupExclusiveAdd(1u);
  return subgroupBroadcastFirst(base) + subgroupLane;
}
