// The sum of a block's rows (slot_rows.wgsl) against a float64 reference, in both kernels that do it:
// the combine (y = the rows' sum) and the RMSNorm that closes a block (h += scale · the rows' sum, then
// the norm of the new h), over random shapes, empty slots, a shared expert, every slot (no ids); the
// outputs and the rows of empty slots poisoned.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { combineKernel, type SlotRows } from '../../src/kernels/combine.js';
import { rmsNormKernel } from '../../src/kernels/rmsnorm.js';
import { Workspace } from '../../src/gpu/workspace.js';
import { poisoned, runKernels, readF32, testDevice } from '../helpers/gpu.js';
import { relativeError } from '../../src/moe/reference.js';
import { NO_EXPERT } from '../../src/moe/router.js';
import { Rng } from '../ref/rng.js';

let device: GPUDevice;
beforeAll(async () => {
  device = await testDevice();
});
afterAll(() => device?.destroy());

interface Rows {
  T: number;
  k: number;
  H: number;
  ys: Float32Array;
  ids?: Uint32Array;
  shared?: Float32Array;
  /** float64 sum of each token's rows, [T, H] */
  sum: Float64Array;
}

/** Random rows: case i has a shared expert when odd, every slot (no ids) when i % 4 == 2. */
function randomRows(rng: Rng, i: number): Rows {
  const T = rng.pick([1, 2, 7, 64, 300]);
  const k = rng.pick([1, 2, 4, 8]);
  const H = rng.int(1, 150);
  const ys = rng.array(T * k * H);
  const shared = i % 2 === 1 ? rng.array(T * H) : undefined;
  // Some slots empty (top-p, capacity): their rows of ys are poison, never read.
  const ids = i % 4 === 2 ? undefined : Uint32Array.from({ length: T * k }, () => (rng.int(0, 3) === 0 ? NO_EXPERT : rng.int(0, 7)));
  ids?.forEach((e, s) => e === NO_EXPERT && ys.fill(NaN, s * H, (s + 1) * H));
  const sum = Float64Array.from({ length: T * H }, (_, o) => {
    const t = Math.floor(o / H);
    let acc = shared ? shared[o] : 0;
    for (let j = 0; j < k; j++) if (!ids || ids[t * k + j] !== NO_EXPERT) acc += ys[(t * k + j) * H + (o % H)];
    return acc;
  });
  return { T, k, H, ys, ids, shared, sum };
}

const upload = (ws: Workspace, r: Rows): SlotRows => ({
  ys: ws.upload(r.ys, 'ys'),
  topK: r.k,
  ids: r.ids && ws.upload(r.ids, 'ids'),
  shared: r.shared && ws.upload(r.shared, 'shared'),
});

describe('combine kernel', () => {
  it('sums each token\'s k rows with an expert (+ the shared expert row) over random shapes', async () => {
    const rng = new Rng(31);
    for (let i = 0; i < 8; i++) {
      const r = randomRows(rng, i);
      const ws = new Workspace(device);
      const y = poisoned(device, r.T * r.H * 4);
      await runKernels(device, () => [combineKernel(ws, upload(ws, r), y, r.T, r.H)]);
      expect(relativeError(await readF32(device, y, r.T * r.H), r.sum)).toBeLessThanOrEqual(1e-6);
      ws.destroy();
    }
  });
});

describe('rmsnorm kernel', () => {
  it('adds scale · each token\'s rows to the residual, then normalises the new residual', async () => {
    const rng = new Rng(32);
    for (let i = 0; i < 10; i++) {
      const r = randomRows(rng, i);
      const { T, H } = r;
      const add = i % 5 !== 4; // and the plain norm, with nothing added
      const h0 = rng.array(T * H);
      const weight = rng.array(H);
      const scale = rng.pick([1, 0.22]);
      const eps = 1e-6;
      const h = Float64Array.from(h0, (v, o) => v + (add ? scale * r.sum[o] : 0));
      const ref = new Float64Array(T * H);
      for (let t = 0; t < T; t++) {
        const row = h.subarray(t * H, (t + 1) * H);
        const rms = 1 / Math.sqrt(row.reduce((a, v) => a + v * v, 0) / H + eps);
        row.forEach((v, c) => (ref[t * H + c] = v * rms * weight[c]));
      }
      const ws = new Workspace(device);
      const hBuf = ws.upload(h0, 'h');
      const out = poisoned(device, T * H * 4);
      await runKernels(device, () => [
        rmsNormKernel(ws, { h: hBuf, add: add ? upload(ws, r) : undefined, weight: ws.upload(weight, 'weight'), out }, T, H, eps, scale),
      ]);
      expect(relativeError(await readF32(device, hBuf, T * H), h)).toBeLessThanOrEqual(1e-6);
      expect(relativeError(await readF32(device, out, T * H), ref)).toBeLessThanOrEqual(1e-6);
      ws.destroy();
    }
  });
});
