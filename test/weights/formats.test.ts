// Weight formats (src/weights/formats/): packing against each format's float64 definition (f32 as it
// is, f16 rounded to nearest even, q8/q4 by referenceQuantize), row sizes, source rows converted or
// passed through, and rows streamed in pieces storing the same bytes as one upload.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBuffers } from '../../src/gpu/workspace.js';
import { f16BitsToF32, f32ToF16Bits, fromF16, toF16 } from '../../src/gpu/f16.js';
import { rawOf, storedRows } from '../../src/weights/convert.js';
import { FORMATS, isQuant, QUANT, WEIGHT_DTYPES, type WeightDType } from '../../src/weights/format.js';
import { createExpertMatrix, uploadExpertMatrix, writeExpertRows } from '../../src/weights/matrix.js';
import { referenceQuantize } from '../../src/moe/reference.js';
import { testDevice } from '../helpers/gpu.js';
import { Rng } from '../ref/rng.js';

/** The values a format stores for `w` (rows of `inner`), from its definition. */
function definition(dtype: WeightDType, w: Float32Array, inner: number): Float32Array {
  if (dtype === 'f32') return w;
  if (dtype === 'f16') return w.map((v) => f16BitsToF32(f32ToF16Bits(v)));
  return referenceQuantize(w, inner, dtype);
}

let small: GPUDevice; // 256 KiB storage bindings
beforeAll(async () => {
  small = await testDevice({ maxStorageBufferBindingSize: 256 * 1024 });
});
afterAll(() => small?.destroy());

describe('weight formats', () => {
  it.each(WEIGHT_DTYPES)('%s: packing decodes to the definition, short last groups and zero groups included', (dtype) => {
    const rng = new Rng(81);
    const format = FORMATS[dtype];
    for (const inner of [1, 5, 31, 32, 33, 64, 95, 97, 300]) {
      const rows = rng.int(1, 4);
      const w = rng.array(rows * inner, rng.pick([1e-3, 1, 30]));
      w.fill(0, 0, Math.min(inner, 32)); // an all-zero group
      const packed = format.pack(w, inner);
      expect(packed.length).toBe(rows * format.rowBytes(inner));
      expect(Array.from(format.unpack(packed, inner))).toEqual(Array.from(definition(dtype, w, inner)));
    }
  });

  it('bits a weight on whole groups: 32, 16, 8.5 (q8), 4.5 (q4)', () => {
    expect(WEIGHT_DTYPES.map((d) => FORMATS[d].rowBytes(2048) * 8 / 2048)).toEqual([32, 16, 8.5, 4.5]);
    expect(QUANT.q4.rowWords(2048) * 32 / 2048).toBe(4.5);
  });

  it('a weight beyond what f16 scales hold, or NaN, is an error naming the row, not a zeroed group', () => {
    const row = Float32Array.from({ length: 40 }, (_, i) => Math.sin(i + 1));
    row[35] = 1e7;
    expect(() => QUANT.q8.quantize(row, 40)).toThrow(/q8 cannot hold a weight of magnitude 10000000 \(row 0, inputs 32…39\)/);
    row[35] = NaN;
    expect(() => QUANT.q4.quantize(row, 40)).toThrow(/q4 cannot hold a weight of magnitude NaN/);
  });

  it.each(WEIGHT_DTYPES)('%s: F32, F16 and BF16 source rows store what their f32 values pack to; a matching dtype passes through', (dtype) => {
    const rng = new Rng(86);
    const format = FORMATS[dtype];
    const w = rng.array(3 * 40);
    const f16 = toF16(w);
    const bf16 = Uint16Array.from(new Uint32Array(w.buffer), (b) => b >>> 16);
    const bf16Values = new Float32Array(Uint32Array.from(bf16, (h) => h << 16).buffer);
    expect(storedRows(format, rawOf(w), 40)).toEqual(format.pack(w, 40));
    expect(storedRows(format, rawOf(f16), 40)).toEqual(format.pack(fromF16(f16), 40));
    expect(storedRows(format, { dtype: 'BF16', bytes: new Uint8Array(bf16.buffer) }, 40)).toEqual(format.pack(bf16Values, 40));
    const own = dtype === 'f32' ? rawOf(w) : dtype === 'f16' ? rawOf(f16) : undefined;
    if (own) expect(storedRows(format, own, 40)).toBe(own.bytes);
    expect(format.sourceDType === undefined).toBe(isQuant(dtype));
  });

  it.each(WEIGHT_DTYPES)('%s: rows streamed in pieces store the same bytes as one upload, from f32 or f16 host weights', async (dtype) => {
    const rng = new Rng(82);
    const format = FORMATS[dtype];
    // f32 gate/up of one expert: 2·50·70·4 B = 28 000 B: several experts a 256 KiB binding.
    const shape = { experts: 3, parts: 2 as const, outputs: 50, inner: 70 };
    const host = rng.array(3 * 2 * 50 * 70);
    const whole = uploadExpertMatrix(small, host, shape, dtype, 'whole');
    const f16Host = uploadExpertMatrix(small, toF16(host), shape, dtype, 'f16 host');
    const f16Values = uploadExpertMatrix(small, fromF16(toF16(host)), shape, dtype, 'f16 values');
    const streamed = createExpertMatrix(small, shape, dtype, 'streamed');
    for (let r = 0; r < 300;) {
      const n = Math.min(300 - r, rng.int(1, 40));
      writeExpertRows(small, streamed, r, format.pack(host.slice(r * 70, (r + n) * 70), 70));
      r += n;
    }
    expect(streamed.chunks.length).toBe(whole.chunks.length);
    const a = await readBuffers(small, whole.chunks.map((c) => c.buffer));
    const b = await readBuffers(small, streamed.chunks.map((c) => c.buffer));
    a.forEach((buf, i) => expect(new Uint32Array(b[i])).toEqual(new Uint32Array(buf)));
    // f16 host weights: the values stored are the f16-rounded ones.
    const c16 = await readBuffers(small, f16Host.chunks.map((c) => c.buffer));
    const v16 = await readBuffers(small, f16Values.chunks.map((c) => c.buffer));
    c16.forEach((buf, i) => expect(new Uint32Array(buf)).toEqual(new Uint32Array(v16[i])));
    for (const m of [whole, f16Host, f16Values, streamed]) for (const c of m.chunks) c.buffer.destroy();
  });
});
