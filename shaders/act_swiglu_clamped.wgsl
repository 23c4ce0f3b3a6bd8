// The gated epilogue of gpt-oss's experts: clamped SwiGLU. gate' = min(gate, LIMIT), up' = clamp(up,
// ±LIMIT), gate' · sigmoid(ALPHA · gate') · (up' + 1). Joined before moe_gemm.wgsl / moe_gemv.wgsl
// (src/kernels/expertMatmul.ts), which set the overrides from the config (swiglu_alpha, swiglu_limit).

override SWIGLU_ALPHA: f32 = 1.702;
override SWIGLU_LIMIT: f32 = 7.0;

fn gated(g: f32, u: f32) -> f32 {
  let gc = min(g, SWIGLU_LIMIT);
  let uc = clamp(u, -SWIGLU_LIMIT, SWIGLU_LIMIT);
  return gc / (1.0 + exp(-SWIGLU_ALPHA * gc)) * (uc + 1.0);
}
