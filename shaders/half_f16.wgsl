// moe_gemm.wgsl's tile element: f16, on a device created with f16Math (and shader-f16) where the
// trial found it faster (src/kernels/tiles.ts): half the workgroup memory per tile, and on GPUs
// twice the multiply rate.
enable f16;
alias half = f16;
