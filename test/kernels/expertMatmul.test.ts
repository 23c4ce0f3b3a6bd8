// Grouped GEMMs and indexed GEMVs on routings made on the CPU, so they are tested apart from the router.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alignKernel, type BlockRows, maxBlocks } from '../../src/kernels/align.js';
import { groupedGemm, indexedGemv } from '../../src/kernels/expertMatmul.js';
import { readBuffers, Workspace } from '../../src/gpu/workspace.js';
import { toF16 } from '../../src/gpu/f16.js';
import { type ExpertMatrix, uploadExpertMatrix, type WeightDType } from '../../src/moe/weights.js';
import { poisoned, runKernels, readF32, testDevice } from '../helpers/gpu.js';
import { referenceDown, referenceGateUp, referenceQuantize, relativeError } from '../../src/moe/reference.js';
import { isQuant } from '../../src/moe/quant.js';
import { Rng } from '../ref/rng.js';
import { gemmCandidates, gemmKey, type GemmTiles, gemmTiles, gemvCandidates, gemvKey, type GemvTiles, gemvTiles, tileChoices } from '../../src/kernels/tiles.js';
import { tileTrials, tuneGemm, tuneGemv } from '../../src/kernels/tune.js';

let device: GPUDevice;
let tiny: GPUDevice;  // storage bindings capped at 8 KiB: every weight splits into many chunks
let plain: GPUDevice;  // neither subgroups nor f16
beforeAll(async () => {
  device = await testDevice({ f16Math: true });  // every candidate, f16 tiles included
  tiny = await testDevice({ maxStorageBufferBindingSize: 8192 });
  plain = await testDevice({ subgroups: false, f16: false });
});
afterAll(() => { device?.destroy(); tiny?.destroy(); plain?.destroy(); });

interface Case { T: number; E: number; k: number; H: number; I: number; dtype: WeightDType; rows: BlockRows; ids: Uint32Array }

async function run(dev: GPUDevice, c: Case, gemv: boolean, seed: number, tiles?: GemvTiles | GemmTiles) {
  const rng = new Rng(seed);
  const { T, E, k, H, I, dtype, rows, ids } = c;
  const slots = T * k;
  const x = rng.array(T * H);
  const gateUpHost = rng.array(E * 2 * I * H, 1 / Math.sqrt(H));
  const downHost = rng.array(E * H * I, 1 / Math.sqrt(I));
  const routeW = Float32Array.from({ length: slots }, () => 0.1 + rng.next());
  const counts = new Uint32Array(E);
  for (const e of ids) counts[e]++;

  const ws = new Workspace(dev);
  const gateUp: ExpertMatrix = uploadExpertMatrix(dev, gateUpHost, { experts: E, parts: 2, outputs: I, inner: H }, dtype, 'gateUp');
  const down: ExpertMatrix = uploadExpertMatrix(dev, downHost, { experts: E, parts: 1, outputs: H, inner: I }, dtype, 'down');
  const blocks = maxBlocks(slots, E, rows);
  const hRows = gemv ? slots : blocks * rows;
  const h = poisoned(dev, hRows * I * 4, 'h');
  const ys = poisoned(dev, slots * H * 4, 'ys');
  const sorted = ws.buffer(blocks * rows * 4, 'sorted');
  const io = { a: ws.upload(x, 'x'), routeW: ws.upload(routeW, 'w'), ids: ws.upload(ids, 'ids'), sorted, blockExpert: ws.buffer(blocks * 4, 'be') };
  await runKernels(dev, () => gemv
      ? [...indexedGemv(ws, gateUp, { ...io, out: h }, k, slots, tiles as GemvTiles), ...indexedGemv(ws, down, { ...io, a: h, out: ys }, k, slots, tiles as GemvTiles)]
      : [
        alignKernel(ws, { ids: io.ids, counts: ws.upload(counts, 'counts'), sorted, blockExpert: io.blockExpert }, slots, E, rows),
        ...groupedGemm(ws, gateUp, { ...io, out: h }, k, blocks, rows, tiles as GemmTiles),
        ...groupedGemm(ws, down, { ...io, a: h, out: ys }, k, blocks, rows, tiles as GemmTiles),
      ]);
  const hGot = await readF32(dev, h, hRows * I);
  const ysGot = await readF32(dev, ys, slots * H);
  const sortedGot = gemv ? Uint32Array.from({ length: slots }, (_, s) => s) : new Uint32Array((await readBuffers(dev, [sorted]))[0]);
  // Reference with the stored (f16-rounded, or quantized → dequantized) weights, to check the kernel's arithmetic.
  const stored = (w: Float32Array, inner: number) => (dtype === 'f16' ? toF16(w) : isQuant(dtype) ? referenceQuantize(w, inner, dtype) : w);
  const gu = stored(gateUpHost, H);
  const dn = stored(downHost, I);
  const hRef: number[] = [];
  const hOut: number[] = [];
  const yRef: number[] = [];
  for (let row = 0; row < sortedGot.length; row++) {
    const s = sortedGot[row];
    if (s === 0xffffffff) continue;
    const t = Math.floor(s / k);
    const hr = referenceGateUp(x.subarray(t * H, (t + 1) * H), ids[s], gu, H, I);
    hRef.push(...hr);
    hOut.push(...hGot.subarray(row * I, (row + 1) * I));
  }
  for (let s = 0; s < slots; s++) {
    const t = Math.floor(s / k);
    const yr = referenceDown(referenceGateUp(x.subarray(t * H, (t + 1) * H), ids[s], gu, H, I), ids[s], dn, H, I);
    yRef.push(...yr.map((v) => v * routeW[s]));
  }
  expect(hOut.length).toBe(slots * I);
  ws.destroy();
  return { h: relativeError(hOut, hRef), ys: relativeError(ysGot, yRef), chunks: [gateUp.chunks.length, down.chunks.length] };
}

function randomCase(rng: Rng, over: Partial<Case> = {}): Case {
  const T = over.T ?? rng.pick([1, 2, 7, 64]);
  const E = over.E ?? rng.pick([1, 4, 8, 32]);
  const k = over.k ?? Math.min(E, rng.pick([1, 2, 4, 8]));
  const c = { T, E, k, H: rng.int(5, 70), I: rng.int(5, 70), dtype: 'f32' as WeightDType, rows: rng.pick([8, 16, 32] as const), ...over };
  return { ...c, ids: over.ids ?? Uint32Array.from({ length: T * k }, () => rng.int(0, E - 1)) };
}

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
          randomCase(rng, { T: 1, E: 8, k: 8, H: 40, I: 33, dtype }),  // one token, k = E
          randomCase(rng, { T: 7, E: 32, k: 1, H: 64, I: 17, dtype, ids: new Uint32Array(7).fill(3) }),  // 31 experts with no rows
        ]) {
          const err = await run(device, c, gemv, 40);
          expect(err.h).toBeLessThanOrEqual(1e-5);
          expect(err.ys).toBeLessThanOrEqual(1e-5);
        }
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

  it('the device offers subgroup and f16 candidates (lavapipe has both)', () => {
    expect(gemvCandidates(device).some((t) => t.shuffle)).toBe(device.features.has('subgroups'));
    expect(gemmCandidates(device, 8, 'q4').some((t) => t.shuffle)).toBe(device.features.has('subgroups'));
    expect(gemvCandidates(plain).some((t) => t.shuffle)).toBe(false);  // created with subgroups: false
    expect(gemmCandidates(plain, 8, 'q4').some((t) => t.shuffle)).toBe(false);
    expect(gemmCandidates(device, 8, 'q4').some((t) => t.f16)).toBe(device.features.has('shader-f16'));
    expect(gemmCandidates(device, 8, 'f32').some((t) => t.f16)).toBe(false);  // f32 weights keep f32 arithmetic
    expect(gemmCandidates(tiny, 8, 'q4').some((t) => t.f16)).toBe(false);  // not asked for with f16Math
  });

  it('indexed GEMV: every tile candidate of the per-device trial, on every storage', async () => {
    const rng = new Rng(28);
    for (const tiles of gemvCandidates(device)) {
      for (const dtype of ['f32', 'f16', 'q8', 'q4'] as const) {
        // Columns not a multiple of any tile's, K not a multiple of 8 (f32/f16) or of a group (q8/q4).
        const c = randomCase(rng, { T: 2, E: 8, k: 3, H: rng.pick([37, 70, 97]), I: rng.pick([13, 45, 66]), dtype });
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
      for (const dtype of ['f32', 'f16', 'q8', 'q4'] as const) {
        for (const tiles of gemmCandidates(device, rows, dtype)) {
          // K past several tiles and not a multiple of any, with one expert taking most rows.
          const c = randomCase(rng, { T: rng.pick([9, 40]), E: 4, k: 2, H: rng.pick([70, 150]), I: rng.pick([45, 100]), dtype, rows });
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
    expect(gemvTiles(dev, m)).toEqual(gemv[0]);  // untuned: the default
    const trials = await tuneGemv(dev, m, 2, 1);
    expect(trials.map((t) => t.tiles)).toEqual(gemv);
    expect(trials.every((t) => t.key === gemvKey(m) && t.ms > 0)).toBe(true);
    const best = trials.reduce((a, b) => (b.ms < a.ms ? b : a)).tiles;
    expect(gemvTiles(dev, m)).toEqual(best);
    expect(await tuneGemv(dev, m, 2, 1)).toEqual([]);  // remembered
    expect(gemvTiles(device, m)).toEqual(gemvCandidates(device)[0]);  // per device

    const gemm = await tuneGemm(dev, m.dtype, m.inner, 1);
    for (const rows of [8, 16, 32] as const) {
      const mine = gemm.filter((t) => t.key === gemmKey(m, rows));
      expect(mine.map((t) => t.tiles)).toEqual(gemmCandidates(dev, rows, 'q4'));
      expect(gemmTiles(dev, m, rows)).toEqual(mine.reduce((a, b) => (b.ms < a.ms ? b : a)).tiles);
    }
    expect(await tuneGemm(dev, m.dtype, m.inner, 1)).toEqual([]);
    // What a benchmark report records: every timing and every choice, by key.
    expect(tileTrials(dev)).toEqual([...trials, ...gemm]);
    expect(tileChoices(dev)).toEqual(Object.fromEntries([
      [gemvKey(m), best], ...([8, 16, 32] as const).map((rows) => [gemmKey(m, rows), gemmTiles(dev, m, rows)]),
    ]));
    dev.destroy();
  });
});
