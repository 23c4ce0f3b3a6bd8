import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routerKernel } from '../../src/kernels/router.js';
import { Workspace, uploadBuffer } from '../../src/gpu/workspace.js';
import type { MoESpec } from '../../src/index.js';
import { resolveRouting } from '../../src/moe/spec.js';
import { poisoned, runKernels, readU32, readF32, testDevice } from '../helpers/gpu.js';
import { randomSpec } from '../helpers/spec.js';
import { Rng } from '../ref/rng.js';
import { referenceRoute } from '../../src/moe/reference.js';

type RouteCase = Omit<MoESpec, 'gateUp' | 'down' | 'intermediate'>;

let device: GPUDevice;
beforeAll(async () => {
  device = await testDevice();
});
afterAll(() => device?.destroy());

async function gpuRoute(s: RouteCase) {
  const ws = new Workspace(device);
  const E = s.numExperts;
  const T = s.tokens;
  const k = s.topK;
  const ids = poisoned(device, T * k * 4);
  const weights = poisoned(device, T * k * 4);
  const counts = ws.upload(new Uint32Array(E), 'counts');
  const mask = Uint32Array.from({ length: E }, (_, e) => (s.expertMask ? (s.expertMask[e] ? 1 : 0) : 1));
  await runKernels(device, () => [routerKernel(ws, {
    x: ws.upload(s.x, 'x'),
    wr: ws.upload(s.router, 'wr'),
    bias: ws.upload(s.routerBias ?? new Float32Array(E), 'bias'),
    selBias: ws.upload(s.selectionBias ?? new Float32Array(E), 'selBias'),
    mask: uploadBuffer(device, mask, 'mask'),
    ids,
    weights,
    counts,
  }, { ...resolveRouting({ ...s, intermediate: 1 }), tokens: T, hidden: s.hidden })]);
  const out = {
    ids: await readU32(device, ids, T * k),
    weights: await readF32(device, weights, T * k),
    counts: await readU32(device, counts, E),
  };
  ws.destroy();
  return out;
}

async function expectRouting(s: RouteCase) {
  const got = await gpuRoute(s);
  const ref = referenceRoute({ ...s, intermediate: 1, gateUp: new Float32Array(), down: new Float32Array() }, got.ids);
  expect(ref.rejected).toEqual([]);
  expect(Array.from(got.ids)).toEqual(ref.ids.flat());
  const w = ref.weights.flat();
  for (let i = 0; i < w.length; i++) expect(Math.abs(got.weights[i] - w[i])).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(w[i])));
  expect(Array.from(got.counts)).toEqual(ref.counts);
}

/** A random block's routing part (its experts' weights are not needed here). */
function randomCase(rng: Rng, over: Partial<RouteCase> = {}): RouteCase {
  const { gateUp: _g, down: _d, intermediate: _i, ...c } = randomSpec(rng, { hidden: over.hidden ?? rng.int(3, 70), intermediate: 1, ...over });
  return c;
}

describe('router kernel vs float64 reference', () => {
  it('softmax → top-k, with and without renormalisation, over random shapes', async () => {
    const rng = new Rng(1);
    for (let i = 0; i < 12; i++) {
      await expectRouting(randomCase(rng, { normTopK: i % 2 === 0, routerBias: i % 3 === 0 ? rng.array(64) : undefined }));
    }
  });

  it('top-k on logits then softmax (GraniteMoE, gpt-oss), with a router bias', async () => {
    const rng = new Rng(2);
    for (let i = 0; i < 6; i++) {
      const c = randomCase(rng, { topkBeforeSoftmax: true });
      await expectRouting({ ...c, routerBias: rng.array(c.numExperts) });
    }
  });

  it('sigmoid with selection bias, grouped top-k and routed scaling (DeepSeek-V3)', async () => {
    const rng = new Rng(3);
    for (const [E, nGroup, topkGroup, k] of [[64, 8, 4, 8], [32, 4, 2, 4], [8, 2, 1, 2], [16, 4, 4, 16], [4, 1, 1, 3]]) {
      const c = randomCase(rng, { numExperts: E, topK: k });
      await expectRouting({
        ...c,
        scoring: 'sigmoid',
        normTopK: true,
        routedScaling: 2.5,
        nGroup,
        topkGroup,
        selectionBias: rng.array(E, 0.3),
      });
    }
  });

  it('softmax with group-limited greedy (group score = its best) and routed scaling (DeepSeek-V2)', async () => {
    const rng = new Rng(7);
    for (const [E, nGroup, topkGroup, k] of [[64, 8, 3, 6], [32, 4, 2, 4], [8, 2, 1, 2], [16, 4, 4, 16], [12, 3, 2, 8], [4, 1, 1, 3]]) {
      const c = randomCase(rng, { numExperts: E, topK: k });
      await expectRouting({ ...c, routedScaling: 16, nGroup, topkGroup, groupScore: 'max' });
    }
  });

  it('group-limited greedy picks groups by their best expert, not the sum of two', async () => {
    // Group 0 holds the best single score, group 1 the best pair: 'max' keeps group 0, 'top2Sum' group 1.
    const H = 4;
    const x = Float32Array.from([1, 0, 0, 0]);
    const router = Float32Array.from([3, 0, 0, 0, -3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0].map((v, i) => (i % H === 0 ? v : 0.5)));
    const c = { tokens: 1, hidden: H, numExperts: 4, topK: 2, x, router, nGroup: 2, topkGroup: 1 };
    expect(Array.from((await gpuRoute({ ...c, groupScore: 'max' })).ids)).toEqual([0, 1]);
    expect(Array.from((await gpuRoute({ ...c, groupScore: 'top2Sum' })).ids)).toEqual([2, 3]);
    await expectRouting({ ...c, groupScore: 'max' });
  });

  it('never chooses a masked expert; softmax runs over the allowed experts', async () => {
    const rng = new Rng(4);
    const c = randomCase(rng, { numExperts: 8, topK: 3, tokens: 64 });
    const expertMask = [1, 0, 1, 1, 0, 1, 1, 0];
    await expectRouting({ ...c, expertMask });
    const got = await gpuRoute({ ...c, expertMask });
    for (const e of got.ids) expect(expertMask[e]).toBe(1);
  });

  it('edge cases: one expert, k = E, one token, hidden 1', async () => {
    const rng = new Rng(5);
    await expectRouting(randomCase(rng, { numExperts: 1, topK: 1 }));
    await expectRouting(randomCase(rng, { numExperts: 64, topK: 64, tokens: 7, normTopK: true }));
    await expectRouting(randomCase(rng, { tokens: 1, hidden: 1 }));
  });

  it('breaks ties toward the lower expert index', async () => {
    const rng = new Rng(6);
    const H = 5;
    const row = rng.array(H);
    // Experts 1, 2 and 3 have the same router row, so the same logits: 1 then 2 must win.
    const router = new Float32Array([...rng.array(H, 0.01), ...row, ...row, ...row]);
    const x = Float32Array.from(row, (v) => v * 10);
    const got = await gpuRoute({ tokens: 1, hidden: H, numExperts: 4, topK: 2, x, router });
    expect(Array.from(got.ids)).toEqual([1, 2]);
  });

  it('breaks ties between groups toward the lower group, in both group scores', async () => {
    const rng = new Rng(8);
    const H = 6;
    const row = rng.array(H);
    const low = rng.array(H, 0.01);
    // Groups of 2: [low, row], [row, low], [low, row]; each group's best (and, with the same low row,
    // its sum) ties, so group 0 is kept with topkGroup 1 and groups 0, 1 with topkGroup 2.
    const router = new Float32Array([...low, ...row, ...row, ...low, ...low, ...row]);
    const x = Float32Array.from(row, (v) => v * 10);
    for (const groupScore of ['max', 'top2Sum'] as const) {
      for (const scoring of ['softmax', 'sigmoid'] as const) {
        const c = { tokens: 1, hidden: H, numExperts: 6, topK: 2, x, router, nGroup: 3, groupScore, scoring };
        expect(Array.from((await gpuRoute({ ...c, topkGroup: 1 })).ids), `${groupScore} ${scoring}`).toEqual([1, 0]);
        expect(Array.from((await gpuRoute({ ...c, topkGroup: 2 })).ids), `${groupScore} ${scoring}`).toEqual([1, 2]);
        await expectRouting({ ...c, topkGroup: 2 });
      }
    }
  });
});
