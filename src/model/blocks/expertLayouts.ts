// Expert tensors laid out otherwise than the matrices' rows [E][P][N] of K inputs (gate rows, then up
// rows), as gpt-oss's checkpoints store them: stacked input-major, [E, K, P·N] (its plain
// gate_up_proj [E, H, 2I] and down_proj [E, I, H]), transposed on the host one expert at a time as they
// stream in, so the host never holds more than one expert of the tensor (twice: as read, and
// transposed); and gate and up interleaved along the outputs (2i: gate i, 2i + 1: up i), in the plain
// and the MXFP4 weights and in the biases.
import type { RawRows, RowSink } from '../../io/checkpoint.js';
import { decodeToF32 } from '../../io/dtype.js';

/**
 * A sink for tensor `name` [E, K, P·N] that calls `write(firstRow, rows)` with each expert's P·N rows
 * of K f32 inputs (its first row counted over the matrix's [E][P][N] rows; the bytes are reused for the
 * next expert, so `write` copies them before it returns, as a GPU write does; the sink waits for what
 * it returns). With P = 2 the parts alternate along the last axis (gpt-oss's gate_up_proj: even
 * columns gate, odd columns up).
 */
export function inputMajorExperts(name: string, inner: number, outputs: number, parts: 1 | 2,
  write: (firstRow: number, rows: RawRows) => void | Promise<void>): RowSink
{
  const cols = parts * outputs;
  const gathered = new Float32Array(inner * cols); // one expert as stored: K rows of P·N
  const rows = new Float32Array(cols * inner); // the same, transposed: P·N rows of K
  const bytes = new Uint8Array(rows.buffer);
  return async (firstRow, raw) => {
    const values = decodeToF32(raw.bytes, raw.dtype, name);
    const written: (void | Promise<void>)[] = [];
    const count = values.length / cols;
    for (let r = 0; r < count;) {
      const k = (firstRow + r) % inner;
      const n = Math.min(count - r, inner - k);
      gathered.set(values.subarray(r * cols, (r + n) * cols), k * cols);
      r += n;
      if (k + n < inner) continue;
      for (let c = 0; c < cols; c++) {
        const out = ((c % parts) * outputs + Math.floor(c / parts)) * inner;
        for (let i = 0; i < inner; i++) rows[out + i] = gathered[i * cols + c];
      }
      const expert = Math.floor((firstRow + r - 1) / inner);
      written.push(write(expert * cols, { dtype: 'F32', bytes }));
    }
    await Promise.all(written);
  };
}

/** The matrix row of an interleaved gate/up row r (2i: gate i, 2i + 1: up i) of I outputs a part. */
export const interleavedRow = (I: number) => (r: number): number => (r % 2) * I + (r >> 1);

/** [E, 2I] biases with gate and up alternating (gpt-oss's gate_up_proj_bias) → per expert, I gate biases then I up biases. */
export function splitInterleaved(b: Float32Array, outputs: number): Float32Array {
  const row = interleavedRow(outputs);
  const out = new Float32Array(b.length);
  for (let j = 0; j < b.length; j++) out[j - (j % (2 * outputs)) + row(j % (2 * outputs))] = b[j];
  return out;
}
