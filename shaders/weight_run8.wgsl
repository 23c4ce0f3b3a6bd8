// A run of 8 weights as a format stores them: every format's prelude defines run8(r, k0), inputs
// k0 … k0+7 of row r (k0 a multiple of 8; zeros from K on) as 8 values q and one scale, weight =
// q · scale. A kernel that uses each weight once (the decode GEMV) dots q with its inputs and scales the
// sum, one multiply a run instead of eight; one that stages weights for many rows takes weights8().
// Joined after the format's prelude.

struct Run8 {
  q: array<vec4f, 2>,
  scale: f32,
}

// Inputs k0 … k0+7 of row r, scaled.
fn weights8(r: u32, k0: u32) -> array<vec4f, 2> {
  let run = run8(r, k0);
  return array<vec4f, 2>(run.q[0] * run.scale, run.q[1] * run.scale);
}
