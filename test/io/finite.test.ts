// The exponent-bit check for non-finite weights, against decoding every value.
import { describe, expect, it } from 'vitest';
import { decodeToF32 } from '../../src/io/dtype.js';
import { checkFinite, firstNonFinite, NonFiniteWeightError } from '../../src/io/finite.js';

/** Every 16-bit pattern, each alone, little-endian. */
const all16 = () => new Uint8Array(new Uint16Array(Array.from({ length: 0x10000 }, (_, h) => h)).buffer);

describe('firstNonFinite', () => {
  for (const dtype of ['F16', 'BF16']) {
    it(`${dtype}: flags exactly the patterns that decode to NaN or ±Inf`, () => {
      const bytes = all16();
      const values = decodeToF32(bytes, dtype, 't');
      const wrong: string[] = [];
      for (let h = 0; h < 0x10000; h++) {
        if ((firstNonFinite(bytes.subarray(2 * h, 2 * h + 2), dtype) === 0) === Number.isFinite(values[h])) wrong.push(`0x${h.toString(16)}`);
      }
      expect(wrong).toEqual([]);
    });

    it(`${dtype}: finds every non-finite element of a long run, a word at a time and element by element`, () => {
      const bytes = all16();
      const values = decodeToF32(bytes, dtype, 't');
      const expected = [...values.keys()].filter((h) => !Number.isFinite(values[h]));
      const found: number[] = [];
      // Each search starts just past the last hit: aligned and unaligned starts alternate.
      for (let at = 0, i; (i = firstNonFinite(bytes.subarray(2 * at), dtype)) >= 0; at += i + 1) found.push(at + i);
      expect(found).toEqual(expected);
    });
  }

  it('F32: flags NaN, ±Inf (every payload bit pattern) and nothing finite, at any byte offset', () => {
    let seed = 7;
    const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    const bits = new Uint32Array(4096).map(rand);
    bits.set([0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffffffff, 0x7f7fffff, 0xff7fffff, 0x00800000, 0], 0);
    const values = new Float32Array(bits.buffer);
    const shifted = new Uint8Array(bits.byteLength + 1).subarray(1); // unaligned
    shifted.set(new Uint8Array(bits.buffer));
    const wrong: string[] = [];
    for (let i = 0; i < bits.length; i++) {
      if ((firstNonFinite(shifted.subarray(4 * i, 4 * i + 4), 'F32') === 0) === Number.isFinite(values[i])) wrong.push(`0x${bits[i].toString(16)}`);
    }
    expect(wrong).toEqual([]);
  });

  it('gives the first non-finite index; -1 for finite rows and other dtypes', () => {
    const v = new Float32Array([1, -2, 3e38, -3e38, Infinity, NaN]);
    expect(firstNonFinite(new Uint8Array(v.buffer), 'F32')).toBe(4);
    expect(firstNonFinite(new Uint8Array(v.buffer, 0, 16), 'F32')).toBe(-1);
    expect(firstNonFinite(new Uint8Array([0xff, 0xff]), 'U8')).toBe(-1);
  });

  it('checkFinite names the file, tensor, row, column and value', () => {
    const v = new Float32Array([1, 2, 3, 4, 5, -Infinity]);
    expect(() => checkFinite(new Uint8Array(v.buffer), 'F32', 'a.safetensors', 'w', 10, 3)).toThrow(NonFiniteWeightError);
    expect(() => checkFinite(new Uint8Array(v.buffer), 'F32', 'a.safetensors', 'w', 10, 3)).toThrow(
      'a.safetensors: tensor \'w\' has -Infinity at row 11, column 2',
    );
  });
});
