// Invocations numbered in their local index order: for kernels whose threads share through
// workgroup memory only (prepended, src/kernels/expertMatmul.ts).
fn place(index: u32) -> u32 { return index; }
