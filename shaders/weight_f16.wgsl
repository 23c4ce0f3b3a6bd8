// The f16 weight format (src/weights/formats/f16.ts): a row is K f16 values packed two a u32 word,
// rows back to back (a row of odd K starts mid-word).
// Joined before a kernel that declares `w: array<u32>` (its weight binding) and `p.K` (inputs a row).

fn weight(r: u32, k: u32) -> f32 {
  let i = r * p.K + k;
  return unpack2x16float(w[i >> 1u])[i & 1u];
}

// Inputs k0 … k0+7 of row r (k0 a multiple of 8; weight_run8.wgsl), scale 1; zeros from K on, so a
// thread or a tile may run past a row's end. Four words for all eight where the run starts on a word.
fn run8(r: u32, k0: u32) -> Run8 {
  var v = Run8(array<vec4f, 2>(), 1.0);
  let K = p.K;
  if (k0 >= K) { return v; }
  let e = r * K + k0;
  if (k0 + 8u <= K && (e & 1u) == 0u) {
    let j = e >> 1u;
    v.q[0] = vec4f(unpack2x16float(w[j]), unpack2x16float(w[j + 1u]));
    v.q[1] = vec4f(unpack2x16float(w[j + 2u]), unpack2x16float(w[j + 3u]));
    return v;
  }
  for (var i = 0u; i < 8u; i++) { v.q[i / 4u][i % 4u] = select(0.0, weight(r, k0 + i), k0 + i < K); }
  return v;
}
