// The f32 weight format (src/weights/formats/f32.ts): a row is K f32 values, one a u32 word.
// Joined before a kernel that declares `w: array<u32>` (its weight binding) and `p.K` (inputs a row).

fn weight(r: u32, k: u32) -> f32 { return bitcast<f32>(w[r * p.K + k]); }

// Inputs k0 … k0+7 of row r (k0 a multiple of 8; weight_run8.wgsl), scale 1; zeros from K on, so a
// thread or a tile may run past a row's end.
fn run8(r: u32, k0: u32) -> Run8 {
  var v = Run8(array<vec4f, 2>(), 1.0);
  let K = p.K;
  if (k0 >= K) { return v; }
  let e = r * K + k0;
  if (k0 + 8u <= K) {
    v.q[0] = bitcast<vec4f>(vec4u(w[e], w[e + 1u], w[e + 2u], w[e + 3u]));
    v.q[1] = bitcast<vec4f>(vec4u(w[e + 4u], w[e + 5u], w[e + 6u], w[e + 7u]));
    return v;
  }
  for (var i = 0u; i < 8u; i++) { v.q[i / 4u][i % 4u] = select(0.0, weight(r, k0 + i), k0 + i < K); }
  return v;
}
