// The MXFP4 weight format (src/weights/formats/mxfp4.ts): blocks of 32 inputs, each 32 E2M1 codes
// (4 bits: sign, 2 exponent bits, 1 mantissa bit) and one E8M0 scale byte s, weight = code · 2^(s−127),
// as gpt-oss's checkpoints store them. A binding holds two planes: first every row's codes (K/8 words
// a row, input k at bits 4·(k % 8) of word k / 8: low nibble first, as in the file), then every row's
// scale bytes (block b at byte b % 4 of word b / 4, ceil(K/128) words a row). K is a multiple of 32,
// so a run of 8 inputs is one code word in one block; the binding holds exactly its rows, so its
// length gives the scale plane's start.
// Joined before a kernel that declares `w: array<u32>` (its weight binding) and `p.K` (inputs a row).

// The scale word of block b of row r.
fn mxScaleWord(r: u32, b: u32) -> u32 {
  let codeWords = p.K / 8u;
  let scaleWords = (p.K + 127u) / 128u;
  let rows = arrayLength(&w) / (codeWords + scaleWords);
  return w[rows * codeWords + r * scaleWords + b / 4u];
}

// The power of two that scales the block of input k of row r: s − 127.
fn mxExponent(r: u32, k: u32) -> i32 {
  let b = k / 32u;
  return i32(extractBits(mxScaleWord(r, b), (b % 4u) * 8u, 8u)) - 127;
}

// Four E2M1 codes → their values. With the magnitude's bits e1 e0 m in an f32's exponent and mantissa
// over a bias of 126, the f32 is 2^(e−1)·(1 + m/2): right for e ≥ 1 (1 … 6); for e = 0 (0 and 0.5) it
// is 0.5 + m/4, and 2f − 1 is. Exact, and no subnormal on the way. Bit 3 is the sign.
fn e2m1(codes: vec4u) -> vec4f {
  let c = codes & vec4u(7u);
  let f = bitcast<vec4f>((c << vec4u(22u)) + vec4u(126u << 23u));
  let v = select(f, 2.0 * f - 1.0, c < vec4u(2u));
  return bitcast<vec4f>(bitcast<vec4u>(v) | ((codes & vec4u(8u)) << vec4u(28u)));
}

fn weight(r: u32, k: u32) -> f32 {
  let code = extractBits(w[r * (p.K / 8u) + k / 8u], (k % 8u) * 4u, 4u);
  return ldexp(e2m1(vec4u(code)).x, mxExponent(r, k));
}

// Inputs k0 … k0+7 of row r (k0 a multiple of 8; weight_run8.wgsl): the E2M1 values and their
// block's power of two; zeros from K on. One code word and one scale.
fn run8(r: u32, k0: u32) -> Run8 {
  var v: Run8;
  if (k0 >= p.K) { return v; }
  let word = vec4u(w[r * (p.K / 8u) + k0 / 8u]);
  v.scale = ldexp(1.0, mxExponent(r, k0));
  v.q[0] = e2m1((word >> vec4u(0u, 4u, 8u, 12u)) & vec4u(15u));
  v.q[1] = e2m1((word >> vec4u(16u, 20u, 24u, 28u)) & vec4u(15u));
  return v;
}
