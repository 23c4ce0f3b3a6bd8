// Source rows to stored rows: the one place where a checkpoint's or a caller's element type meets a
// weight format. Bytes pass through untouched where the format stores that type (F16 → f16, F32 →
// f32); otherwise they are decoded to f32 and packed (rounded or quantized) by the format.
import type { RawRows } from '../io/checkpoint.js';
import { decodeToF32, isDecodable } from '../io/dtype.js';
import type { WeightFormat } from './format.js';

/** Host weights: f32 values, or f16 bits in a Uint16Array. */
export type HostWeights = Float32Array | Uint16Array;

/** Host weights as raw rows (a view, no copy). */
export const rawOf = (w: HostWeights): RawRows => ({
  dtype: w instanceof Uint16Array ? 'F16' : 'F32',
  bytes: new Uint8Array(w.buffer, w.byteOffset, w.byteLength),
});

/** Rows of `inner` values → the format's stored bytes; `where` names the tensor in errors. */
export function storedRows(format: WeightFormat, rows: RawRows, inner: number, where = 'weights'): Uint8Array {
  return rows.dtype === format.sourceDType ? rows.bytes : format.pack(decodeToF32(rows.bytes, rows.dtype, where), inner);
}

/** Whether storedRows can store rows of this safetensors dtype in the format. */
export const canStore = (format: WeightFormat, dtype: string): boolean => dtype === format.sourceDType || isDecodable(dtype);
