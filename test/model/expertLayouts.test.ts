// gpt-oss's expert layouts into the matrices' rows: input-major [E, K, P·N] tensors transposed one
// expert at a time from pieces of any size (across expert boundaries, one row, the whole tensor),
// gate and up interleaved along the outputs; against the index definition on random values.
import { describe, expect, it } from 'vitest';
import type { RawRows } from '../../src/io/checkpoint.js';
import { decodeToF32 } from '../../src/io/dtype.js';
import { inputMajorExperts, interleavedRow, splitInterleaved } from '../../src/model/blocks/expertLayouts.js';
import { Rng } from '../ref/rng.js';

/** f32 values as BF16 bytes (truncated: any BF16 value will do), and those values. */
function bf16(values: Float32Array): { bytes: Uint8Array; values: Float32Array } {
  const bits = new Uint16Array(values.length);
  const u32 = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < values.length; i++) bits[i] = u32[i] >>> 16;
  const bytes = new Uint8Array(bits.buffer);
  return { bytes, values: decodeToF32(bytes, 'BF16', 'test') };
}

/** The matrix rows of tensor t [E, K, P·N]: row (e·P + p)·N + n, input k = t[e][k][n·P + p]. */
function expected(t: Float32Array, E: number, K: number, N: number, P: number): Float32Array {
  const out = new Float32Array(t.length);
  for (let e = 0; e < E; e++) {
    for (let p = 0; p < P; p++) {
      for (let n = 0; n < N; n++) {
        for (let k = 0; k < K; k++) out[((e * P + p) * N + n) * K + k] = t[(e * K + k) * P * N + n * P + p];
      }
    }
  }
  return out;
}

describe('input-major experts (gpt-oss gate_up_proj [E, H, 2I], down_proj [E, I, H])', () => {
  it('transposes each expert, from pieces across expert boundaries, F32 and BF16 rows', async () => {
    const rng = new Rng(91);
    for (let i = 0; i < 12; i++) {
      const [E, K, N] = [rng.int(1, 5), rng.int(1, 9), rng.int(1, 7)];
      const P = rng.pick([1, 2] as const);
      const dtype = rng.pick(['F32', 'BF16']);
      const drawn = rng.array(E * K * P * N);
      const { bytes, values } = dtype === 'F32' ? { bytes: new Uint8Array(drawn.buffer), values: drawn } : bf16(drawn);
      const rowBytes = P * N * (dtype === 'F32' ? 4 : 2);
      const got = new Float32Array(values.length).fill(NaN);
      const firstRows: number[] = [];
      const sink = inputMajorExperts('t', K, N, P, (firstRow: number, rows: RawRows) => {
        expect(rows.dtype).toBe('F32');
        firstRows.push(firstRow);
        got.set(decodeToF32(rows.bytes, 'F32', 't'), firstRow * K);
      });
      // pieces of 1 … 2K + 1 rows: inside one expert, across one or two boundaries
      for (let row = 0; row < E * K;) {
        const n = Math.min(E * K - row, rng.int(1, 2 * K + 1));
        await sink(row, { dtype, bytes: bytes.slice(row * rowBytes, (row + n) * rowBytes) });
        row += n;
      }
      expect(firstRows).toEqual(Array.from({ length: E }, (_, e) => e * P * N));
      expect(Array.from(got), JSON.stringify({ E, K, N, P, dtype })).toEqual(Array.from(expected(values, E, K, N, P)));
    }
  });

  it('one piece holding the whole tensor', () => {
    const [E, K, N, P] = [3, 4, 5, 2] as const;
    const t = new Rng(92).array(E * K * P * N);
    const got: number[] = [];
    inputMajorExperts('t', K, N, P, (_, rows) => {
      got.push(...decodeToF32(rows.bytes, 'F32', 't'));
    })(0, { dtype: 'F32', bytes: new Uint8Array(t.buffer) });
    expect(got).toEqual(Array.from(expected(t, E, K, N, P)));
  });
});

describe('interleaved gate and up (2i: gate i, 2i + 1: up i)', () => {
  it('biases [E, 2I] split into each expert\'s gate then up biases; rows mapped the same way', () => {
    const [E, I] = [3, 5];
    const b = Float32Array.from({ length: E * 2 * I }, (_, j) => j);
    const split = splitInterleaved(b, I);
    const row = interleavedRow(I);
    for (let e = 0; e < E; e++) {
      for (let i = 0; i < I; i++) {
        expect(split[e * 2 * I + i]).toBe(b[e * 2 * I + 2 * i]); // gate i
        expect(split[e * 2 * I + I + i]).toBe(b[e * 2 * I + 2 * i + 1]); // up i
      }
    }
    expect(Array.from({ length: 2 * I }, (_, r) => row(r))).toEqual([0, 5, 1, 6, 2, 7, 3, 8, 4, 9]);
  });
});
