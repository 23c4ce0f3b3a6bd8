import { describe, expect, it } from 'vitest';
import { f16BitsToF32, f32ToF16Bits } from '../../src/gpu/f16.js';
import { Rng } from '../ref/rng.js';

describe('f16 conversion', () => {
  it('exact values, limits, rounding to nearest even', () => {
    const cases: [number, number][] = [
      [1, 0x3c00],
      [-2, 0xc000],
      [0.5, 0x3800],
      [65504, 0x7bff],
      [70000, 0x7c00],
      [-Infinity, 0xfc00],
      [2 ** -24, 0x0001],
      [2 ** -14, 0x0400],
      [2 ** -26, 0x0000],
      [-0, 0x8000],
      [1 + 2 ** -11, 0x3c00], // halfway, even stays
      [1 + 3 * 2 ** -11, 0x3c02], // halfway, odd rounds up
      [65520, 0x7c00], // rounds up into infinity
    ];
    for (const [v, bits] of cases) expect(f32ToF16Bits(v), String(v)).toBe(bits);
    expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN)))).toBe(true);
  });

  it('round trip of every finite f16, and ≤ 2^-11 relative error for random floats', () => {
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00) continue;
      expect(f32ToF16Bits(f16BitsToF32(h))).toBe(h === 0x8000 ? 0x8000 : h);
    }
    const rng = new Rng(61);
    for (let i = 0; i < 10000; i++) {
      const v = rng.normal() * 100;
      expect(Math.abs(f16BitsToF32(f32ToF16Bits(v)) - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11 + 2 ** -25);
    }
  });
});
