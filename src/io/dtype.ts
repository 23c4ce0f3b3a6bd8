// Safetensors element types: their sizes, and decoding of the float ones to f32.
import { f16BitsToF32 } from '../gpu/f16.js';
import { SafetensorsError } from './error.js';

/** Bytes per element of every byte-sized safetensors dtype (the header may name any of them). */
export const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  F8_E8M0: 1,
  U16: 2,
  I16: 2,
  F16: 2,
  BF16: 2,
  U32: 4,
  I32: 4,
  F32: 4,
  U64: 8,
  I64: 8,
  F64: 8,
  C64: 8,
};

const DECODABLE = ['F32', 'F16', 'BF16'];

export const isDecodable = (dtype: string): boolean => DECODABLE.includes(dtype);

/** Throws unless decodeToF32 can read this dtype (so a load fails before it reads anything). */
export function checkDecodable(dtype: string, where: string): void {
  if (!isDecodable(dtype)) {
    throw new SafetensorsError(where, `dtype ${dtype} cannot be read (supported: ${DECODABLE.join(', ')})`);
  }
}

let f16Table: Float32Array | undefined;

/** All 65536 f16 values, built on first use (256 KiB): a load is then one lookup per element. */
function f16Values(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(0x10000);
    for (let h = 0; h < 0x10000; h++) f16Table[h] = f16BitsToF32(h);
  }
  return f16Table;
}

/** Little-endian F32 / F16 / BF16 bytes (at any byteOffset) as a new Float32Array. */
export function decodeToF32(bytes: Uint8Array, dtype: string, where: string): Float32Array {
  checkDecodable(dtype, where);
  const size = DTYPE_BYTES[dtype];
  if (bytes.length % size) {
    throw new SafetensorsError(where, `${bytes.length} bytes is not a whole number of ${dtype} elements`);
  }
  const out = new Float32Array(bytes.length / size);
  if (dtype === 'F32') {
    // A byte copy: no alignment needed (every WebGPU host is little-endian).
    new Uint8Array(out.buffer).set(bytes);
  } else if (dtype === 'F16') {
    const table = f16Values();
    for (let i = 0, j = 0; i < out.length; i++, j += 2) out[i] = table[bytes[j] | (bytes[j + 1] << 8)];
  } else {
    // bf16 is the top half of an f32.
    const bits = new Uint32Array(out.buffer);
    for (let i = 0, j = 0; i < out.length; i++, j += 2) bits[i] = (bytes[j] | (bytes[j + 1] << 8)) << 16;
  }
  return out;
}
