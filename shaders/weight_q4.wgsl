// The q4 weight format (src/weights/formats/q4.ts): int4 in groups of 32 with f16 scales
// (weight_groups.wgsl, joined with it).

const BITS = 4u;

// Inputs k0 … k0+7 of row r (k0 a multiple of 8; weight_run8.wgsl): the integers and their group's
// scale; zeros from K on. A run of 8 never straddles a group: one data word and one scale for all
// eight. Shifting a nibble to the top bits and back sign-extends it.
fn run8(r: u32, k0: u32) -> Run8 {
  var v: Run8;
  if (k0 >= p.K) { return v; }
  let row = groupRow(r);
  v.scale = groupScale(row, k0);
  let word = vec4u(w[row + k0 / 8u]);
  v.q[0] = vec4f(bitcast<vec4i>(word << vec4u(28u, 24u, 20u, 16u)) >> vec4u(28u));
  v.q[1] = vec4f(bitcast<vec4i>(word << vec4u(12u, 8u, 4u, 0u)) >> vec4u(28u));
  return v;
}
