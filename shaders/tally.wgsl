// Tally: adds a call's counts into running totals, and its tokens after them.
// Layout: counts [n] u32 → totals [n + 1] u32 (totals[n] += tokens).
// Dispatch: (ceil(n / WG), 1, 1).

struct Params {
  n: u32,
  tokens: u32,
}

const WG = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> counts: array<u32>;
@group(0) @binding(2) var<storage, read_write> totals: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i < p.n) { totals[i] += counts[i]; }
  if (i == 0u) { totals[p.n] += p.tokens; }
}
