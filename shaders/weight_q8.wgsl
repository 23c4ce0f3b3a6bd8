// The q8 weight format (src/weights/formats/q8.ts): int8 in groups of 32 with f16 scales
// (weight_groups.wgsl, joined with it).

const BITS = 8u;

// Inputs k0 … k0+7 of row r (k0 a multiple of 8; weight_run8.wgsl): the integers and their group's
// scale; zeros from K on. A run of 8 never straddles a group: two data words and one scale for all
// eight. Shifting a byte to the top bits and back sign-extends it.
fn run8(r: u32, k0: u32) -> Run8 {
  var v: Run8;
  if (k0 >= p.K) { return v; }
  let row = groupRow(r);
  v.scale = groupScale(row, k0);
  let i = row + k0 / 4u;
  let shifts = vec4u(24u, 16u, 8u, 0u);
  v.q[0] = vec4f(bitcast<vec4i>(vec4u(w[i]) << shifts) >> vec4u(24u));
  v.q[1] = vec4f(bitcast<vec4i>(vec4u(w[i + 1u]) << shifts) >> vec4u(24u));
  return v;
}
