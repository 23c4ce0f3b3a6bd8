// moe_gemm.wgsl's tile element: f32, on every device (prepended, src/kernels/expertMatmul.ts).
alias half = f32;
