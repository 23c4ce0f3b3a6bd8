// Rotary embedding of the rope part of Multi-head Latent Attention's queries and keys (DeepSeek-V2/V3),
// joined with the MLA kernels that turn them (mla_prep, mla_query). Pair i of the R rope dimensions
// turns by the angle of position · invFreq[i], whose (cos, sin) (× YaRN's attention factor) is
// rope[pos · R/2 + i], computed on the CPU in float64.
// INTERLEAVE: the pair is (2i, 2i+1), the checkpoints' layout: DeepSeek-V2 turns it as a complex
//   number, V3 (rope_interleave) de-interleaves it and rotates half: the same rotation of the same pair.
//   Else (i, i + R/2): rotate-half.
// A turned pair is stored where it was read, for queries and keys alike, so their dot products are the
// reference's whatever order it keeps them in.

override INTERLEAVE: bool = true;

// The two dimensions of pair i.
fn ropePair(i: u32, R: u32) -> vec2u {
  return select(vec2u(i, i + R / 2u), vec2u(2u * i, 2u * i + 1u), INTERLEAVE);
}

// The pair v turned by the angle whose (cos, sin) is cs.
fn rotate(v: vec2f, cs: vec2f) -> vec2f {
  return vec2f(v.x * cs.x - v.y * cs.y, v.y * cs.x + v.x * cs.y);
}
