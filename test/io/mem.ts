// Test helpers: tensors of each float dtype with their exact f32 values, and an in-memory ModelSource
// that streams in small chunks (so pieces span chunks) and records what was read.
import { fromF16, toF16 } from '../../src/gpu/f16.js';
import type { RawRows } from '../../src/io/checkpoint.js';
import { decodeToF32 } from '../../src/io/dtype.js';
import type { EncodeTensor } from '../../src/io/safetensors.js';
import type { ModelFile, ModelSource } from '../../src/io/source.js';
import { expect } from 'vitest';
import { Rng } from '../ref/rng.js';

export type FloatDType = EncodeTensor['dtype'];

/** Random values stored as dtype, and what decoding them must give exactly. */
export function floatTensor(rng: Rng, dtype: FloatDType, shape: number[]): { tensor: EncodeTensor; values: Float32Array } {
  const f32 = rng.array(shape.reduce((a, b) => a * b, 1));
  if (dtype === 'F32') return { tensor: { dtype, shape, data: new Uint8Array(f32.buffer) }, values: f32 };
  if (dtype === 'F16') {
    const bits = toF16(f32);
    return { tensor: { dtype, shape, data: new Uint8Array(bits.buffer) }, values: fromF16(bits) };
  }
  const bits = Uint16Array.from(new Uint32Array(f32.buffer), (b) => b >>> 16);
  const values = new Float32Array(Uint32Array.from(bits, (b) => b << 16).buffer);
  return { tensor: { dtype, shape, data: new Uint8Array(bits.buffer) }, values };
}

export interface MemSource extends ModelSource {
  /** Every stream() call, and whether it was closed. */
  reads: { file: string; start: number; end: number; closed: boolean }[];
}

export function memSource(files: Record<string, Uint8Array | string>, chunk = 5): MemSource {
  const reads: MemSource['reads'] = [];
  return {
    name: 'mem:/model',
    reads,
    async open(file) {
      const data = files[file];
      if (data === undefined || typeof data === 'string') return undefined;
      const f: ModelFile = {
        size: data.length,
        async *stream(start, end, signal) {
          const read = { file, start, end, closed: false };
          reads.push(read);
          try {
            for (let at = start; at < end; at += chunk) {
              signal?.throwIfAborted();
              yield data.slice(at, Math.min(at + chunk, end));
            }
          } finally {
            read.closed = true;
          }
        },
      };
      return f;
    },
    async text(file) {
      const data = files[file];
      return typeof data === 'string' ? data : undefined;
    },
  };
}

/** Collects a tensor from a sink's pieces, checking that they arrive in order and as whole rows. */
export function collector(shape: number[]) {
  const row = shape.length ? shape[shape.length - 1] : 1;
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  const pieces: number[] = [];
  let next = 0;
  const sink = (rowStart: number, raw: RawRows) => {
    const rows = decodeToF32(raw.bytes, raw.dtype, 'collector');
    if (rowStart !== next) throw new Error(`piece at row ${rowStart}, expected row ${next}`);
    if (rows.length % row) throw new Error(`piece of ${rows.length} values is not whole rows of ${row}`);
    out.set(rows, rowStart * row);
    next += rows.length / row;
    pieces.push(rows.length);
  };
  return { sink, out, pieces };
}

/** The error `p` rejects with, which must be an `E`. */
export async function rejection<E>(p: Promise<unknown>, type: new(...args: never[]) => E): Promise<E> {
  const err = await p.catch((e) => e);
  expect(err).toBeInstanceOf(type);
  return err as E;
}
