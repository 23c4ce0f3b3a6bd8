import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workspace } from '../../src/gpu/workspace.js';
import { NO_EXPERT, Router } from '../../src/moe/router.js';
import type { MoESpec } from '../../src/index.js';
import { resolveRouting } from '../../src/moe/spec.js';
import { runKernels, readU32, readF32, testDevice } from '../helpers/gpu.js';
import { randomRouting, randomSpec } from '../helpers/spec.js';
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
  const router = new Router(device, resolveRouting({ ...s, intermediate: 1 }), s.hidden, { ...s, mask: s.expertMask }, 'test');
  const r = router.plan(ws, ws.upload(s.x, 'x'), T);
  for (const b of [r.ids, r.weights]) device.queue.writeBuffer(b, 0, new Uint32Array(T * k).fill(0x7fbadbad));
  await runKernels(device, () => r.route);
  const out = {
    ids: await readU32(device, r.ids, T * k),
    weights: await readF32(device, r.weights, T * k),
    counts: await readU32(device, r.counts, E + 1),
  };
  router.destroy();
  ws.destroy();
  return out;
}

/** The GPU's routing equals the float64 reference's (empty slots: NONE, weight 0), its counts the reference's loads and drops. */
async function expectRouting(s: RouteCase) {
  const got = await gpuRoute(s);
  const ref = referenceRoute({ ...s, intermediate: 1, gateUp: new Float32Array(), down: new Float32Array() }, got.ids);
  expect(ref.rejected).toEqual([]);
  const live = (i: number) => got.ids[i] !== NO_EXPERT;
  expect(Array.from(got.ids).filter((_, i) => live(i))).toEqual(ref.ids.flat());
  const gotW = Array.from(got.weights).filter((_, i) => live(i));
  const refW = ref.weights.flat();
  for (let i = 0; i < refW.length; i++) expect(Math.abs(gotW[i] - refW[i])).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(refW[i])));
  got.weights.forEach((w, i) => live(i) || expect(w).toBe(0));
  expect(Array.from(got.counts)).toEqual([...ref.counts, ref.dropped]);
  return { got, ref };
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
      const c = randomCase(rng, { normTopK: i % 2 === 0 });
      await expectRouting({ ...c, routerBias: i % 3 === 0 ? rng.array(c.numExperts) : undefined });
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

describe('routing controls vs float64 reference', () => {
  it('top-p keeps the fewest of the k choices (at least minK) whose probability mass reaches p, in every routing variant', async () => {
    const rng = new Rng(11);
    let fewer = 0;
    for (const topP of [0.3, 0.6, 0.9, 1]) {
      for (let i = 0; i < 3; i++) {
        const E = rng.pick([8, 16, 32]);
        const c = randomCase(rng, { numExperts: E, topK: 4, tokens: rng.pick([1, 7, 40]) });
        const s = { ...c, ...randomRouting(rng, E), topP, minK: rng.int(1, 2) };
        const { ref } = await expectRouting({ ...s, minK: Math.min(s.minK, s.topK) });
        fewer += ref.ids.filter((row) => row.length < s.topK).length;
      }
    }
    expect(fewer).toBeGreaterThan(0);
  });

  it('capacity: overflow dropped or sent to the next choice, by score then position, in every routing variant', async () => {
    const rng = new Rng(12);
    const seen = { dropped: 0, moved: 0 };
    for (const capacityMode of ['drop', 'next'] as const) {
      for (const capacityFactor of [0.5, 1, 1.25]) {
        const E = rng.pick([8, 16]);
        const c = randomCase(rng, { numExperts: E, topK: 2, tokens: rng.pick([7, 40, 64]) });
        const s = { ...c, ...randomRouting(rng, E), capacityFactor, capacityMode };
        const { ref } = await expectRouting(s);
        const plain = referenceRoute({ ...s, capacityFactor: undefined, intermediate: 1, gateUp: new Float32Array(), down: new Float32Array() });
        seen.dropped += ref.dropped;
        seen.moved += ref.ids.flat().filter((e, i) => e !== plain.ids.flat()[i]).length;
        const cap = Math.ceil((capacityFactor * s.tokens * s.topK) / E);
        for (const n of ref.counts) expect(n).toBeLessThanOrEqual(cap);
      }
    }
    expect(seen.dropped).toBeGreaterThan(0);
    expect(seen.moved).toBeGreaterThan(0);
  });

  it('capacity with top-p, a mask and grouped sigmoid routing (DeepSeek-V3)', async () => {
    const rng = new Rng(13);
    for (const capacityMode of ['drop', 'next'] as const) {
      const c = randomCase(rng, { numExperts: 16, topK: 4, tokens: 48 });
      const expertMask = Array.from({ length: 16 }, (_, e) => (e % 5 === 2 ? 0 : 1));
      await expectRouting({
        ...c,
        scoring: 'sigmoid',
        normTopK: true,
        routedScaling: 2.5,
        nGroup: 4,
        topkGroup: 3,
        selectionBias: rng.array(16, 0.3),
        expertMask,
        topP: 0.7,
        capacityFactor: 0.75,
        capacityMode,
      });
    }
  });

  it('capacity: equal scores go to the earlier token', async () => {
    // Every token has the same row: the same scores, so the first `capacity` tokens keep expert 0.
    // 8 experts (logits 3, 2, 1, 0, −1, …), 16 tokens, k = 1: capacity ⌈0.5 · 16 / 8⌉ = 1.
    const H = 1;
    const router = Float32Array.from({ length: 8 }, (_, e) => 3 - e);
    const x = new Float32Array(16).fill(1);
    const c = { tokens: 16, hidden: H, numExperts: 8, topK: 1, x, router, capacityFactor: 0.5 };
    const drop = await gpuRoute({ ...c, capacityMode: 'drop' });
    expect(Array.from(drop.ids)).toEqual([0, ...new Array(15).fill(NO_EXPERT)]);
    const next = await gpuRoute({ ...c, capacityMode: 'next' });
    expect(Array.from(next.ids)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, ...new Array(8).fill(NO_EXPERT)]);
    await expectRouting({ ...c, capacityMode: 'next' });
  });
});
