// The MXFP4 format (src/weights/formats/mxfp4.ts, shaders/weight_mxfp4.wgsl): unpacking against the
// definition (E2M1 code · 2^(s − 127)) on hand-built blocks, packing against a definition of the
// reference quantizer written apart here, its place among the storages, the two planes of a binding,
// and weight() on the GPU.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBuffers, Workspace } from '../../src/gpu/workspace.js';
import { embedKernel } from '../../src/kernels/embed.js';
import { FORMATS, STORAGES, WEIGHT_DTYPES } from '../../src/weights/format.js';
import { E2M1, MXFP4 } from '../../src/weights/formats/mxfp4.js';
import { createExpertMatrix, destroyExpertMatrix, uploadExpertMatrix, writeExpertRows } from '../../src/weights/matrix.js';
import { validateLayer } from '../../src/moe/spec.js';
import { poisoned, readF32, runKernels, testDevice } from '../helpers/gpu.js';
import { readMatrix } from '../helpers/matrix.js';
import { Rng } from '../ref/rng.js';

const MAGNITUDES = [0, 0.5, 1, 1.5, 2, 3, 4, 6];

/**
 * What the reference quantizer (triton_kernels' downcast_to_mxfp, as transformers quantizes gpt-oss)
 * stores for w: per block of 32, scale = the smallest power of two ≥ f32(max|w| / 6) (at least
 * 2^-126, the f32 exponent field rounded up; 0 for an all-zero block), each w / scale to the nearest
 * E2M1 magnitude (a tie to the larger), with w's sign.
 */
function definition(w: Float32Array): Float32Array {
  const out = new Float32Array(w.length);
  for (let b = 0; b < w.length; b += 32) {
    const block = w.subarray(b, b + 32);
    const d = Math.fround(Math.max(...block.map(Math.abs)) / 6);
    let scale = 2 ** -126;
    while (scale < d) scale *= 2;
    if (d === 0) scale = 0;
    block.forEach((v, i) => {
      const q = scale ? Math.abs(v) / scale : 0;
      let best = 0;
      for (const m of MAGNITUDES) if (Math.abs(q - m) <= Math.abs(q - best)) best = m;
      out[b + i] = (Object.is(v, -0) || v < 0 ? -best : best) * scale;
    });
  }
  return out;
}

/** One stored row of K inputs from its codes (one per input) and scale bytes (one per block). */
function storedRow(codes: number[], scales: number[]): Uint8Array {
  const K = codes.length;
  const row = new Uint8Array(MXFP4.rowBytes(K));
  codes.forEach((c, k) => (row[k >> 1] |= c << ((k & 1) * 4)));
  row.set(scales, K / 2);
  return row;
}

const bits = (a: ArrayLike<number>) => Array.from(a, (v) => (Object.is(v, -0) ? '-0' : String(v)));

describe('mxfp4 weights', () => {
  it('every code at scale bytes 0, 127 and 254, in a hand-built row, unpacks to E2M1 · 2^(s − 127); the low nibble comes first', () => {
    const codes = Array.from({ length: 96 }, (_, k) => k % 16);
    const scales = [0, 127, 254];
    const row = storedRow(codes, scales);
    expect(row[0]).toBe(0x10); // inputs 0 and 1: codes 0 and 1
    expect(row.length).toBe(48 + 4); // the 3 scale bytes padded to a word
    const want = codes.map((c, k) => Math.fround(E2M1[c] * 2 ** (scales[k >> 5] - 127)));
    expect(bits(MXFP4.unpack(row, 96))).toEqual(bits(want));
    expect(want.slice(32, 48)).toEqual([0, 0.5, 1, 1.5, 2, 3, 4, 6, -0, -0.5, -1, -1.5, -2, -3, -4, -6]);
    expect(want[1]).toBe(2 ** -128); // scale byte 0: 2^-127, subnormal products held exactly
    expect(want[64 + 3]).toBe(1.5 * 2 ** 127);
    expect(want[64 + 4]).toBe(Infinity); // 2 · 2^127 is past f32
    // The block at scale 1 holds a 6: packing its values gives its bytes back, -0 included.
    const values = Float32Array.from(want.slice(32, 64));
    expect(Array.from(MXFP4.pack(values, 32))).toEqual(Array.from(storedRow(codes.slice(32, 64), [127])));
  });

  it('packs as the reference quantizer: the scale from the block maximum, rounded up to a power of two; codes to nearest, ties away from zero', () => {
    const rng = new Rng(91);
    for (const K of [32, 64, 96, 128, 160, 2880]) {
      const rows = rng.int(1, 3);
      const w = rng.array(rows * K, rng.pick([1e-30, 1e-3, 1, 1e30]));
      w.fill(0, 0, 32); // an all-zero block: scale byte 0
      w[1] = -0;
      const packed = MXFP4.pack(w, K);
      expect(packed.length).toBe(rows * MXFP4.rowBytes(K));
      expect(packed[K / 2]).toBe(0);
      expect(bits(MXFP4.unpack(packed, K))).toEqual(bits(definition(w)));
    }
    // Midpoints of the grid at scale 1 (a 6 in the block): each goes to the larger magnitude.
    const ties = [6, 0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5, 0.2499, 0.7499, 4.999, -0.25, -2.5, -5, -0.1, 0];
    const w = Float32Array.from({ length: 32 }, (_, i) => ties[i % 16]);
    const got = MXFP4.unpack(MXFP4.pack(w, 32), 32);
    expect(bits(got.subarray(0, 16))).toEqual(bits([6, 0.5, 1, 1.5, 2, 3, 4, 6, 0, 0.5, 4, -0.5, -3, -6, -0, 0]));
    expect(bits(got)).toEqual(bits(definition(w)));
  });

  it('random codes and scale bytes 1…253 with a ±6 in each block pack back to the same bytes', () => {
    const rng = new Rng(92);
    const K = 256;
    const codes = Array.from({ length: 4 * K }, () => rng.int(0, 15));
    for (let b = 0; b < codes.length; b += 32) codes[b + rng.int(0, 31)] = rng.pick([7, 15]);
    const scales = Array.from({ length: 4 * K / 32 }, () => rng.int(1, 253));
    const stored = new Uint8Array(4 * MXFP4.rowBytes(K));
    for (let r = 0; r < 4; r++) stored.set(storedRow(codes.slice(r * K, (r + 1) * K), scales.slice(r * 8, (r + 1) * 8)), r * MXFP4.rowBytes(K));
    expect(MXFP4.pack(MXFP4.unpack(stored, K), K)).toEqual(stored);
  });

  it('4.25 bits a weight (scales padded to a word a row); K not a multiple of 32, NaN and infinite weights are named errors', () => {
    expect(MXFP4.rowBytes(2048) * 8 / 2048).toBe(4.25);
    expect(MXFP4.rowBytes(2880)).toBe(1440 + 92); // gpt-oss-20b: 90 scale bytes, 2 of padding
    expect(MXFP4.planes!(2880)).toEqual([1440, 92]);
    expect(() => MXFP4.rowBytes(70)).toThrow('webmoe: mxfp4 rows hold whole blocks of 32 inputs, got 70 inputs');
    const row = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i + 1));
    row[40] = -Infinity;
    expect(() => MXFP4.pack(row, 64)).toThrow('webmoe: mxfp4 cannot hold a weight of magnitude Infinity (row 0, inputs 32…63)');
    row[40] = NaN;
    expect(() => MXFP4.pack(row, 64)).toThrow(/mxfp4 cannot hold a weight of magnitude NaN/);
  });

  it('is a storage of its own, not a dtype choice', () => {
    expect(WEIGHT_DTYPES).toEqual(['f32', 'f16', 'q8', 'q4']);
    expect('mxfp4' in FORMATS).toBe(false);
    expect(STORAGES.mxfp4).toBe(MXFP4);
    const c = { hidden: 32, numExperts: 2, intermediate: 32, topK: 1, dtype: 'mxfp4' as 'f32' };
    const w = { router: new Float32Array(64), gateUp: new Float32Array(4096), down: new Float32Array(2048) };
    expect(() => validateLayer(c, w)).toThrow('dtype must be one of \'f32\', \'f16\', \'q8\', \'q4\', got mxfp4');
  });
});

describe('mxfp4 on the GPU', () => {
  let tiny: GPUDevice; // 8 KiB bindings
  beforeAll(async () => {
    tiny = await testDevice({ maxStorageBufferBindingSize: 8192 });
  });
  afterAll(() => tiny?.destroy());

  it('a binding holds its rows\' codes, then their scales; streamed rows store the bytes of one upload, over column splits', async () => {
    const rng = new Rng(93);
    // K 256: 136 B a row, 272 B a column of gate/up: 30 columns a binding, 2 bindings an expert.
    const shape = { experts: 3, parts: 2 as const, outputs: 40, inner: 256 };
    const host = rng.array(3 * 2 * 40 * 256);
    const whole = uploadExpertMatrix(tiny, host, shape, 'mxfp4', 'whole');
    const streamed = createExpertMatrix(tiny, shape, 'mxfp4', 'streamed');
    for (let r = 0; r < 240;) {
      const n = Math.min(240 - r, rng.int(1, 50));
      writeExpertRows(tiny, streamed, r, MXFP4.pack(host.subarray(r * 256, (r + n) * 256), 256));
      r += n;
    }
    expect(whole.chunks.map((c) => [c.e0, c.n0, c.n1])).toEqual([[0, 0, 30], [0, 30, 40], [1, 0, 30], [1, 30, 40], [2, 0, 30], [2, 30, 40]]);
    const want = MXFP4.unpack(MXFP4.pack(host, 256), 256);
    expect(await readMatrix(tiny, whole)).toEqual(want);
    expect(await readMatrix(tiny, streamed)).toEqual(want);
    // The second binding: expert 0's gate rows 30…39, then its up rows 30…39 (20 rows); codes, then scales.
    const bytes = new Uint8Array((await readBuffers(tiny, [streamed.chunks[1].buffer]))[0]);
    const rowOf = (j: number) => (j < 10 ? 30 + j : 40 + 30 + j - 10); // matrix row of binding row j
    const packed = MXFP4.pack(host.subarray(0, 80 * 256), 256);
    for (let j = 0; j < 20; j++) {
      expect(bytes.subarray(j * 128, (j + 1) * 128)).toEqual(packed.subarray(rowOf(j) * 136, rowOf(j) * 136 + 128));
      expect(bytes.subarray(20 * 128 + j * 8, 20 * 128 + (j + 1) * 8)).toEqual(packed.subarray(rowOf(j) * 136 + 128, (rowOf(j) + 1) * 136));
    }
    destroyExpertMatrix(whole);
    destroyExpertMatrix(streamed);
  });

  it('weight() reads every code at scale bytes 0 … 254 exactly (the embedding kernel over an mxfp4 table)', async () => {
    const K = 64;
    const scales = [0, 1, 100, 127, 200, 254];
    const codes = Array.from({ length: K }, (_, k) => (k * 7) % 16);
    const table = createExpertMatrix(tiny, { experts: 1, parts: 1, outputs: scales.length, inner: K }, 'mxfp4', 'table');
    const rows = scales.map((s) => storedRow(codes, [s, s]));
    writeExpertRows(tiny, table, 0, Uint8Array.from(rows.flatMap((r) => [...r])));
    const ws = new Workspace(tiny);
    const x = poisoned(tiny, scales.length * K * 4, 'x');
    const ids = ws.upload(Uint32Array.from(scales.keys()).reverse(), 'ids'); // rows in reverse
    await runKernels(tiny, () => embedKernel(ws, table, { ids, x }, scales.length, 1));
    const got = await readF32(tiny, x, scales.length * K);
    const want = MXFP4.unpack(Uint8Array.from([...rows].reverse().flatMap((r) => [...r])), K);
    for (let i = 0; i < want.length; i++) {
      const e = want[i];
      const at = `token ${Math.floor(i / K)}, input ${i % K}`;
      // WGSL may flush a subnormal result to zero, and leaves an overflowing one indeterminate.
      if (Math.abs(e) < 2 ** -126 && e !== 0) expect(got[i] === e || got[i] === 0, at).toBe(true);
      else if (Number.isFinite(e)) expect(bits([got[i]]), at).toEqual(bits([e]));
    }
    ws.destroy();
    destroyExpertMatrix(table);
  });
});
