// Grouped GEMMs and indexed GEMVs on routings made on the CPU, so they are tested apart from the router.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Case, randomCase, runExperts as run } from '../helpers/experts.js';
import { gemvCandidates, gemvSlots } from '../../src/kernels/tiles.js';
import { testDevice } from '../helpers/gpu.js';
import { Rng } from '../ref/rng.js';

let device: GPUDevice;
let tiny: GPUDevice; // storage bindings capped at 8 KiB: every weight splits into many chunks
beforeAll(async () => {
  device = await testDevice();
  tiny = await testDevice({ maxStorageBufferBindingSize: 8192 });
});
afterAll(() => {
  device?.destroy();
  tiny?.destroy();
});

describe('expert GEMMs and GEMVs vs float64 reference', () => {
  for (const gemv of [false, true]) {
    const path = gemv ? 'indexed GEMV' : 'grouped GEMM';
    it(`${path}: random shapes, f32 and f16 weights`, async () => {
      const rng = new Rng(gemv ? 21 : 22);
      for (let i = 0; i < 8; i++) {
        const c = randomCase(rng, { dtype: i % 2 ? 'f16' : 'f32' });
        const err = await run(device, c, gemv, i);
        expect(err.h, JSON.stringify({ ...c, ids: undefined })).toBeLessThanOrEqual(1e-5);
        expect(err.ys).toBeLessThanOrEqual(1e-5);
      }
    });

    it(`${path}: all slots on one expert, experts with no slots, one token`, async () => {
      const rng = new Rng(23);
      for (const c of [
        randomCase(rng, { T: 64, E: 8, k: 2, ids: new Uint32Array(128).fill(6) }),
        randomCase(rng, { T: 7, E: 32, k: 1, ids: new Uint32Array(7).fill(0) }),
        randomCase(rng, { T: 1, E: 64, k: 64, ids: Uint32Array.from({ length: 64 }, (_, e) => 63 - e) }),
      ]) {
        const err = await run(device, c, gemv, 5);
        expect(err.h).toBeLessThanOrEqual(1e-5);
        expect(err.ys).toBeLessThanOrEqual(1e-5);
      }
    });

    it(`${path}: matrices holding a subset of the experts in another order, through the slot table`, async () => {
      const rng = new Rng(28);
      for (let i = 0; i < 6; i++) {
        const E = rng.pick([4, 8, 32]);
        const order = [...Array(E).keys()].sort(() => rng.next() - 0.5);
        const held = order.slice(0, rng.int(1, E));
        const T = rng.pick([1, 3, 40]);
        const k = Math.min(held.length, rng.pick([1, 2, 4]));
        const ids = Uint32Array.from({ length: T * k }, () => rng.pick(held));
        const c = randomCase(rng, { T, E, k, ids, held, dtype: rng.pick(['f32', 'f16', 'q8', 'q4'] as const) });
        const err = await run(i % 2 ? tiny : device, c, gemv, 30 + i);
        expect(err.h, JSON.stringify({ ...c, ids: undefined })).toBeLessThanOrEqual(1e-5);
        expect(err.ys).toBeLessThanOrEqual(1e-5);
      }
    });

    it(`${path}: weights split over many small bindings give the same result`, async () => {
      const rng = new Rng(24);
      // 8 KiB bindings. f32: gate/up of one expert (11880 B) splits into column ranges, down holds
      // one expert per binding. f16: one expert of gate/up, two of down per binding.
      for (const [dtype, chunks] of [['f32', [8, 4]], ['f16', [4, 2]]] as const) {
        const c = randomCase(rng, { T: 7, E: 4, k: 2, H: 33, I: 45, dtype });
        const err = await run(tiny, c, gemv, 6);
        expect(err.chunks).toEqual(chunks);
        expect(err.h).toBeLessThanOrEqual(1e-5);
        expect(err.ys).toBeLessThanOrEqual(1e-5);
      }
    });

    it(`${path}: q8 and q4 weights (group-wise scales, short last groups) match the dequantized reference`, async () => {
      const rng = new Rng(gemv ? 25 : 26);
      for (let i = 0; i < 8; i++) {
        // H, I drawn around multiples of 32: whole groups, a short last group, a row shorter than a group.
        const dim = () => rng.pick([5, 31, 32, 33, 64, 70, 95, 96, 97]);
        const c = randomCase(rng, { dtype: i % 2 ? 'q4' : 'q8', H: dim(), I: dim() });
        const err = await run(device, c, gemv, 30 + i);
        expect(err.h, JSON.stringify({ ...c, ids: undefined })).toBeLessThanOrEqual(1e-5);
        expect(err.ys, JSON.stringify({ ...c, ids: undefined })).toBeLessThanOrEqual(1e-5);
      }
      for (const dtype of ['q8', 'q4'] as const) {
        for (const c of [
          randomCase(rng, { T: 1, E: 8, k: 8, H: 40, I: 33, dtype }), // one token, k = E
          randomCase(rng, { T: 7, E: 32, k: 1, H: 64, I: 17, dtype, ids: new Uint32Array(7).fill(3) }), // 31 experts with no rows
        ]) {
          const err = await run(device, c, gemv, 40);
          expect(err.h).toBeLessThanOrEqual(1e-5);
          expect(err.ys).toBeLessThanOrEqual(1e-5);
        }
      }
    });

    it(`${path}: mxfp4 weights (gpt-oss's Hub experts) match the float64 reference on their exact values`, async () => {
      const rng = new Rng(gemv ? 61 : 62);
      const dim = () => 32 * rng.int(1, 5); // whole blocks of 32
      for (let i = 0; i < 6; i++) {
        const c = randomCase(rng, { dtype: 'mxfp4', H: dim(), I: dim() });
        const err = await run(device, c, gemv, 60 + i);
        expect(err.h, JSON.stringify({ ...c, ids: undefined })).toBeLessThanOrEqual(1e-5);
        expect(err.ys, JSON.stringify({ ...c, ids: undefined })).toBeLessThanOrEqual(1e-5);
      }
      for (
        const c of [
          randomCase(rng, { T: 1, E: 8, k: 8, H: 64, I: 96, dtype: 'mxfp4' }), // one token, k = E
          randomCase(rng, { T: 1, E: 4, k: 1, H: 160, I: 32, dtype: 'mxfp4' }), // one token, one expert
          randomCase(rng, { T: 40, E: 8, k: 2, H: 32, I: 64, dtype: 'mxfp4', ids: new Uint32Array(80).fill(5) }), // all rows on one expert, 7 with none
        ]
      ) {
        const err = await run(device, c, gemv, 66);
        expect(err.h).toBeLessThanOrEqual(1e-5);
        expect(err.ys).toBeLessThanOrEqual(1e-5);
      }
    });

    it(`${path}: mxfp4 weights split over small bindings, by whole experts and by column ranges`, async () => {
      const rng = new Rng(63);
      // 8 KiB bindings. H 256, I 96: gate/up rows 136 B (30 columns a binding, 4 an expert), down rows
      // 52 B (157 columns, 2 an expert). H 64, I 32: 3 experts of gate/up a binding, all 4 of down in one.
      for (const [H, I, chunks] of [[256, 96, [16, 8]], [64, 32, [2, 1]]] as const) {
        const c = randomCase(rng, { T: 7, E: 4, k: 2, H, I, dtype: 'mxfp4' });
        const err = await run(tiny, c, gemv, 8);
        expect(err.chunks).toEqual(chunks);
        expect(err.h).toBeLessThanOrEqual(1e-5);
        expect(err.ys).toBeLessThanOrEqual(1e-5);
      }
    });

    it(`${path}: expert biases and clamped SwiGLU (gpt-oss) on every format, edge cases, slot tables and splits`, async () => {
      const rng = new Rng(gemv ? 64 : 65);
      // gate and up are about N(0, 1): a limit of 0.7 clamps most of them, 7 (gpt-oss's) few. Each
      // (alpha, limit) is a pipeline of its own: two keep the test short.
      const clamped = () => rng.pick([{ kind: 'swiglu_clamped', alpha: 1.702, limit: 0.7 }, { kind: 'swiglu_clamped', alpha: 0.5, limit: 7 }] as const);
      const dtypes = ['f32', 'f16', 'q8', 'q4'] as const;
      for (let i = 0; i < 8; i++) {
        const c = randomCase(rng, { dtype: dtypes[i % 4], biased: i !== 3, activation: i === 5 ? undefined : clamped() });
        const err = await run(device, c, gemv, 60 + i);
        expect(err.h, JSON.stringify({ ...c, ids: undefined })).toBeLessThanOrEqual(1e-5);
        expect(err.ys, JSON.stringify({ ...c, ids: undefined })).toBeLessThanOrEqual(1e-5);
      }
      const E = 8;
      const held = [5, 2, 7, 0]; // a subset in another order: biases are read by expert id, weights by slot
      for (const [dev, c] of [
        [device, randomCase(rng, { T: 1, E, k: 1, H: 33, I: 17 })], // one token
        [device, randomCase(rng, { T: 1, E, k: E, H: 40, I: 9, dtype: 'q8' })], // k = E
        [device, randomCase(rng, { T: 64, E, k: 2, ids: new Uint32Array(128).fill(6), dtype: 'f16' })], // all on one expert, the rest none
        [device, randomCase(rng, { T: 7, E, k: 2, held, ids: Uint32Array.from({ length: 14 }, () => rng.pick(held)), dtype: 'q4' })],
        [device, randomCase(rng, { T: 7, E, k: 2, H: 64, I: 96, dtype: 'mxfp4' })], // gpt-oss's own storage
        [tiny, randomCase(rng, { T: 7, E: 4, k: 2, H: 33, I: 45 })], // column ranges: biases at the chunk's columns
        [tiny, randomCase(rng, { T: 5, E: 4, k: 2, H: 300, I: 200, dtype: 'q4' })],
        [tiny, randomCase(rng, { T: 7, E: 4, k: 2, H: 256, I: 96, dtype: 'mxfp4' })],
      ] as const) {
        const err = await run(dev, { ...c, biased: true, activation: clamped() }, gemv, 70);
        expect(err.h, JSON.stringify({ ...c, ids: undefined })).toBeLessThanOrEqual(1e-5);
        expect(err.ys, JSON.stringify({ ...c, ids: undefined })).toBeLessThanOrEqual(1e-5);
      }
    });

    it(`${path}: q8 and q4 weights split by column ranges over small bindings`, async () => {
      const rng = new Rng(27);
      // 8 KiB bindings, H 300 (10 groups), I 200 (7 groups). q8 rows: gate/up 340 B, down 240 B →
      // 12 and 34 columns per binding; q4 rows: 180 B and 128 B → 22 and 64 columns.
      for (const [dtype, chunks] of [['q8', [4 * 17, 4 * 9]], ['q4', [4 * 10, 4 * 5]]] as const) {
        const c = randomCase(rng, { T: 5, E: 4, k: 2, H: 300, I: 200, dtype });
        const err = await run(tiny, c, gemv, 7);
        expect(err.chunks).toEqual(chunks);
        expect(err.h).toBeLessThanOrEqual(1e-5);
        expect(err.ys).toBeLessThanOrEqual(1e-5);
      }
    });
  }
});

describe('indexed GEMV on one expert: several slots a workgroup (SLOTS) vs float64 reference', () => {
  const check = (err: { h: number; ys: number }, c: Case) => {
    expect(err.h, JSON.stringify({ ...c, ids: undefined })).toBeLessThanOrEqual(1e-5);
    expect(err.ys, JSON.stringify({ ...c, ids: undefined })).toBeLessThanOrEqual(1e-5);
  };

  it('T = 1…9 slots (SLOTS 1, 2, 4, not always dividing T), every weight format and tile candidate, K and N off the tiles, biases', async () => {
    const rng = new Rng(90);
    const dtypes = ['f32', 'f16', 'q8', 'q4', 'mxfp4'] as const;
    const candidates = gemvCandidates(device);
    for (let T = 1; T <= 9; T++) {
      const dtype = dtypes[T % dtypes.length];
      const dim = () => (dtype === 'mxfp4' ? 32 * rng.int(1, 4) : rng.int(5, 100)); // mxfp4: whole blocks
      const tiles = candidates[T % candidates.length];
      const c = randomCase(rng, { T, E: 1, k: 1, H: dim(), I: dim(), dtype, ids: new Uint32Array(T), oneExpert: true, biased: T % 3 === 0 });
      expect(gemvSlots(tiles, T)).toBe(Math.min(2 ** Math.ceil(Math.log2(T)), 4, 8 / tiles.rows));
      check(await run(device, c, true, 90 + T, tiles), c);
    }
  });

  it('weights split over small bindings, biases, several slots a token on one held expert', async () => {
    const rng = new Rng(91);
    // 8 KiB bindings, as in the GEMV's split tests above: column ranges of one expert.
    for (const [dtype, T, chunks] of [['f32', 7, [2, 1]], ['q4', 5, [10, 5]], ['q8', 9, [17, 9]]] as const) {
      const H = dtype === 'f32' ? 33 : 300;
      const I = dtype === 'f32' ? 45 : 200;
      const c = randomCase(rng, { T, E: 1, k: 1, H, I, dtype, ids: new Uint32Array(T), oneExpert: true, biased: true });
      const err = await run(tiny, c, true, 91);
      expect(err.chunks).toEqual(chunks);
      check(err, c);
    }
    // k = 2 slots a token on expert 2 of a matrix holding experts 3, 2, 0: the slot table, and a
    // gate/up input shared by a token's slots.
    const c = randomCase(rng, { T: 3, E: 4, k: 2, held: [3, 2, 0], ids: new Uint32Array(6).fill(2), dtype: 'q4', oneExpert: true, biased: true });
    check(await run(device, c, true, 92), c);
  });
});
