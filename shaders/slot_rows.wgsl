// The rows a MoE block leaves to sum, read by combine.wgsl and by rmsnorm.wgsl (which then closes the
// block, sums its rows and opens the next sub-block in one kernel): for token t and column c,
// shared[t, c] (HAS_SHARED) + Σ_j ys[t·k + j, c] over the k = p.topK slots of the token that have an
// expert (ids[t·k + j] not NONE; every slot without ROUTED, and ids is then unread), added in that
// order. Layout: ys [T·k, H], ids [T·k], sharedY [T, H]; the including file declares them and p.topK.

override HAS_SHARED: bool = false;
override ROUTED: bool = true;
const NONE = 0xffffffffu;

fn slotSum(t: u32, c: u32, H: u32) -> f32 {
  var acc = 0.0;
  if (HAS_SHARED) { acc = sharedY[t * H + c]; }
  for (var j = 0u; j < p.topK; j++) {
    let s = t * p.topK + j;
    if (!ROUTED || ids[s] != NONE) { acc += ys[s * H + c]; }
  }
  return acc;
}
