import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { combineKernel } from '../../src/kernels/combine.js';
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

describe('combine kernel', () => {
  it('sums each token\'s k rows with an expert (+ the shared expert row) over random shapes', async () => {
    const rng = new Rng(31);
    for (let i = 0; i < 8; i++) {
      const T = rng.pick([1, 2, 7, 64, 300]);
      const k = rng.pick([1, 2, 4, 8]);
      const H = rng.int(1, 150);
      const withShared = i % 2 === 1;
      const ys = rng.array(T * k * H);
      const shared = rng.array(T * H);
      // Some slots empty (top-p, capacity): their rows of ys are poison, never read.
      const ids = Uint32Array.from({ length: T * k }, () => (rng.int(0, 3) === 0 ? NO_EXPERT : rng.int(0, 7)));
      ids.forEach((e, s) => e === NO_EXPERT && ys.fill(NaN, s * H, (s + 1) * H));
      const ref = Float64Array.from({ length: T * H }, (_, o) => {
        const t = Math.floor(o / H);
        let acc = withShared ? shared[o] : 0;
        for (let j = 0; j < k; j++) if (ids[t * k + j] !== NO_EXPERT) acc += ys[(t * k + j) * H + (o % H)];
        return acc;
      });
      const ws = new Workspace(device);
      const y = poisoned(device, T * H * 4);
      await runKernels(device, () => [
        combineKernel(ws, { ys: ws.upload(ys, 'ys'), ids: ws.upload(ids, 'ids'), shared: withShared ? ws.upload(shared, 'sh') : undefined, y }, T, H, k),
      ]);
      expect(relativeError(await readF32(device, y, T * H), ref)).toBeLessThanOrEqual(1e-6);
      ws.destroy();
    }
  });
});
