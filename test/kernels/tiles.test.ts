// The per-device tile trial's candidates (src/kernels/tiles.ts), each against the float64 reference on
// every storage, and the trial itself (src/moe/tune.ts). A file of its own: on a fresh machine
// lavapipe compiles each variant in 1–2 s, and these tests then take minutes, beside the others.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadExpertMatrix } from '../../src/weights/matrix.js';
import { gemmCandidates, gemmKey, gemmTiles, gemvCandidates, gemvKey, gemvTiles, tileChoices } from '../../src/kernels/tiles.js';
import { tileTrials, tuneGemm, tuneGemv } from '../../src/moe/tune.js';
import { randomCase, runExperts as run } from '../helpers/experts.js';
import { testDevice } from '../helpers/gpu.js';
import { Rng } from '../ref/rng.js';

/** Every storage; mxfp4 (the Hub's gpt-oss experts) only in whole blocks of 32 inputs. */
const STORAGES = ['f32', 'f16', 'q8', 'q4', 'mxfp4'] as const;
const blocks = (dtype: string, K: number) => (dtype === 'mxfp4' ? 32 * Math.ceil(K / 32) : K);

let device: GPUDevice;
let usual: GPUDevice; // created without f16Math
let plain: GPUDevice; // neither subgroups nor f16
beforeAll(async () => {
  device = await testDevice({ f16Math: true }); // every candidate, f16 tiles included
  usual = await testDevice();
  plain = await testDevice({ subgroups: false, f16: false });
});
afterAll(() => {
  device?.destroy();
  usual?.destroy();
  plain?.destroy();
});

describe('tile candidates and the per-device trial', () => {
  it('the device offers subgroup and f16 candidates (lavapipe has both)', () => {
    expect(gemvCandidates(device).some((t) => t.shuffle)).toBe(device.features.has('subgroups'));
    expect(gemmCandidates(device, 8, 'q4').some((t) => t.shuffle)).toBe(device.features.has('subgroups'));
    expect(gemvCandidates(plain).some((t) => t.shuffle)).toBe(false); // created with subgroups: false
    expect(gemmCandidates(plain, 8, 'q4').some((t) => t.shuffle)).toBe(false);
    expect(gemmCandidates(device, 8, 'q4').some((t) => t.f16)).toBe(device.features.has('shader-f16'));
    expect(gemmCandidates(device, 8, 'f32').some((t) => t.f16)).toBe(false); // f32 weights keep f32 arithmetic
    expect(gemmCandidates(usual, 8, 'q4').some((t) => t.f16)).toBe(false); // not asked for with f16Math
  });

  it('indexed GEMV: every tile candidate of the per-device trial, on every storage', async () => {
    const rng = new Rng(28);
    for (const tiles of gemvCandidates(device)) {
      for (const dtype of STORAGES) {
        // Columns not a multiple of any tile's, K not a multiple of 8 (f32/f16) or of a group (q8/q4).
        const c = randomCase(rng, { T: 2, E: 8, k: 3, H: blocks(dtype, rng.pick([37, 70, 97])), I: blocks(dtype, rng.pick([13, 45, 66])), dtype });
        const err = await run(device, c, true, 50, tiles);
        const what = JSON.stringify({ tiles, ...c, ids: undefined });
        expect(err.h, what).toBeLessThanOrEqual(1e-5);
        expect(err.ys, what).toBeLessThanOrEqual(1e-5);
      }
    }
  });

  // One test per tile height: on a fresh machine lavapipe compiles each variant's pipeline in about a second.
  for (const rows of [8, 16, 32] as const) {
    it(`grouped GEMM: every tile candidate of the per-device trial, on every storage, ${rows}-row tiles`, async () => {
      const rng = new Rng(30 + rows);
      for (const dtype of STORAGES) {
        for (const tiles of gemmCandidates(device, rows, dtype)) {
          // K past several tiles and not a multiple of any, with one expert taking most rows.
          const c = randomCase(rng, { T: rng.pick([9, 40]), E: 4, k: 2, H: blocks(dtype, rng.pick([70, 150])), I: blocks(dtype, rng.pick([45, 100])), dtype,
            rows });
          const err = await run(device, c, false, 51, tiles);
          const what = JSON.stringify({ tiles, ...c, ids: undefined });
          // f16 tiles round each input and each product to f16 (relative 2^-11); the sums stay f32.
          const tol = tiles.f16 ? 2e-3 : 1e-5;
          expect(err.h, what).toBeLessThanOrEqual(tol);
          expect(err.ys, what).toBeLessThanOrEqual(tol);
        }
      }
    });
  }

  it('the tile trial times every candidate once per key and device, and the kernels then use its choice', async () => {
    const dev = await testDevice();
    const m = uploadExpertMatrix(dev, new Rng(29).array(4 * 2 * 24 * 40), { experts: 4, parts: 2, outputs: 24, inner: 40 }, 'q4', 'm');
    const gemv = gemvCandidates(dev);
    expect(gemvTiles(dev, m)).toEqual(gemv[0]); // untuned: the default
    // No compile budget: every candidate is timed however slowly this machine compiles them today.
    const trials = await tuneGemv(dev, m, 2, 1, Infinity);
    expect(trials.map((t) => t.tiles)).toEqual(gemv);
    expect(trials.every((t) => t.key === gemvKey(m) && t.ms > 0)).toBe(true);
    const best = trials.reduce((a, b) => (b.ms < a.ms ? b : a)).tiles;
    expect(gemvTiles(dev, m)).toEqual(best);
    expect(await tuneGemv(dev, m, 2, 1, Infinity)).toEqual([]); // remembered
    expect(gemvTiles(device, m)).toEqual(gemvCandidates(device)[0]); // per device

    const gemm = await tuneGemm(dev, m.dtype, m.inner, 1, Infinity);
    for (const rows of [8, 16, 32] as const) {
      const mine = gemm.filter((t) => t.key === gemmKey(m, rows));
      expect(mine.map((t) => t.tiles)).toEqual(gemmCandidates(dev, rows, 'q4'));
      expect(gemmTiles(dev, m, rows)).toEqual(mine.reduce((a, b) => (b.ms < a.ms ? b : a)).tiles);
    }
    expect(await tuneGemm(dev, m.dtype, m.inner, 1, Infinity)).toEqual([]);
    // What a benchmark report records: every timing and every choice, by key.
    expect(tileTrials(dev)).toEqual([...trials, ...gemm]);
    expect(tileChoices(dev)).toEqual(Object.fromEntries([
      [gemvKey(m), best],
      ...([8, 16, 32] as const).map((rows) => [gemmKey(m, rows), gemmTiles(dev, m, rows)]),
    ]));
    dev.destroy();
  });

  it('where compiling the candidates would take over the budget, the trial keeps the default after timing it alone', async () => {
    const dev = await testDevice();
    const m = uploadExpertMatrix(dev, new Rng(31).array(4 * 2 * 24 * 40), { experts: 4, parts: 2, outputs: 24, inner: 40 }, 'q4', 'm');
    const trials = await tuneGemv(dev, m, 2, 1, -Infinity); // no time at all for compiling
    expect(trials.map((t) => t.tiles)).toEqual([gemvCandidates(dev)[0]]);
    expect(trials[0].ms).toBeGreaterThan(0);
    expect(gemvTiles(dev, m)).toEqual(gemvCandidates(dev)[0]);
    expect(tileTrials(dev)).toEqual(trials);
    dev.destroy();
  });
});
