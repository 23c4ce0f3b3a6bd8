// moe_gemm.wgsl's tile element: f16, where the device has shader-f16 and the trial found it faster
// (src/kernels/tiles.ts): half the workgroup memory per tile, and on GPUs twice the arithmetic rate.
enable f16;
alias half = f16;
