// The gated epilogue of a gate/up matrix: SwiGLU, silu(gate) · up (Mixtral, Qwen, OLMoE, Granite,
// DeepSeek). Joined before moe_gemm.wgsl / moe_gemv.wgsl (src/kernels/expertMatmul.ts).

fn gated(g: f32, u: f32) -> f32 { return g / (1.0 + exp(-g)) * u; }
