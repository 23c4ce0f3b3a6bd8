// Routing controls through the MoE block (router, capacity, alignment, expert kernels, combine) on the
// decode GEMV and the prefill GEMM paths, against the float64 reference: k override, top-p, capacity
// in both modes, masks, with grouped and biased routing and a shared expert; and the errors naming
// the option.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MoELayer, type MoESpec } from '../../src/index.js';
import { readBuffers, uploadBuffer } from '../../src/gpu/workspace.js';
import type { RoutingControls } from '../../src/moe/spec.js';
import { NO_EXPERT } from '../../src/moe/router.js';
import { checked, poisoned, testDevice } from '../helpers/gpu.js';
import { randomRouting, randomSpec } from '../helpers/spec.js';
import { referenceMoE, relativeError } from '../../src/moe/reference.js';
import { Rng } from '../ref/rng.js';

let device: GPUDevice;
beforeAll(async () => {
  device = await testDevice();
});
afterAll(() => device?.destroy());

/** The block built from `s` (the model's routing), then run under `controls`; checked against the reference of `s` with them. */
async function expectControlled(s: MoESpec, controls: RoutingControls, mask?: number[]) {
  const what = JSON.stringify({ T: s.tokens, E: s.numExperts, k: s.topK, controls, mask });
  const ref = { ...s, ...Object.fromEntries(Object.entries(controls).filter(([, v]) => v !== undefined)), expertMask: mask ?? s.expertMask };
  const k = ref.topK;
  const got = await checked(device, async () => {
    const layer = MoELayer.create(device, s, s);
    layer.setControls(controls);
    if (mask) layer.setExpertMask(mask);
    const x = uploadBuffer(device, s.x, 'x');
    const y = poisoned(device, s.tokens * s.hidden * 4);
    const enc = device.createCommandEncoder();
    layer.encode(enc, x, y, s.tokens);
    const r = layer.routing();
    expect(r.topK).toBe(k);
    const [yb, ib, cb, tb] = await readBuffers(device, [y, r.ids, r.counts, layer.totals], enc);
    layer.destroy();
    x.destroy();
    y.destroy();
    return {
      y: new Float32Array(yb, 0, s.tokens * s.hidden),
      ids: new Uint32Array(ib, 0, s.tokens * k),
      counts: new Uint32Array(cb, 0, s.numExperts + 1),
      totals: new Uint32Array(tb, 0, s.numExperts + 3),
    };
  });
  const r = referenceMoE(ref, got.ids);
  expect(r.rejected, what).toEqual([]);
  expect(Array.from(got.ids).filter((e) => e !== NO_EXPERT), what).toEqual(r.ids.flat());
  expect(Array.from(got.counts), what).toEqual([...r.counts, r.dropped]);
  // the experts run: those with a pair, each reading its weights once
  const ran = r.counts.filter((n) => n > 0).length;
  expect(Array.from(got.totals), what).toEqual([...r.counts, r.dropped, s.tokens, ran]);
  expect(relativeError(got.y, r.y), what).toBeLessThanOrEqual(1e-5);
  return r;
}

const CONTROLS: RoutingControls[] = [
  { topK: 1 },
  { topK: 6 },
  { topP: 0.5 },
  { topP: 0.8, minK: 2, topK: 5 },
  { capacityFactor: 0.5 },
  { capacityFactor: 0.75, capacityMode: 'next' },
  { topP: 0.7, capacityFactor: 1, capacityMode: 'next' },
];

describe('routing controls through the MoE block vs float64 reference', () => {
  it.each([['decode GEMV', 3], ['prefill GEMM', 40]] as const)('%s path: k override, top-p, capacity (both modes), in every routing variant',
    async (_, tokens) => {
      const rng = new Rng(tokens);
      let fewer = 0;
      for (const controls of CONTROLS) {
        const E = rng.pick([8, 16]);
        const s = randomSpec(rng, { tokens, numExperts: E, topK: 3, ...randomRouting(rng, E) });
        const r = await expectControlled({ ...s, topK: Math.min(s.topK, 3) }, controls);
        fewer += r.ids.filter((row) => row.length < (controls.topK ?? Math.min(s.topK, 3))).length;
      }
      expect(fewer).toBeGreaterThan(0);
    });

  it('a mask with top-p and capacity, grouped sigmoid routing (DeepSeek-V3) and a shared expert, both paths', async () => {
    const rng = new Rng(61);
    for (const tokens of [2, 33]) {
      const s = randomSpec(rng, { tokens, numExperts: 16, topK: 4, scoring: 'sigmoid', normTopK: true, routedScaling: 2.5, nGroup: 4, topkGroup: 3 });
      s.selectionBias = rng.array(16, 0.3);
      const S = rng.int(5, 30);
      s.shared = {
        intermediate: S,
        gateUp: rng.array(2 * S * s.hidden, 1 / Math.sqrt(s.hidden)),
        down: rng.array(s.hidden * S, 1 / Math.sqrt(S)),
        gate: rng.array(s.hidden, 1 / Math.sqrt(s.hidden)),
      };
      const mask = Array.from({ length: 16 }, (_, e) => (e % 4 === 1 ? 0 : 1));
      await expectControlled(s, { topP: 0.6, capacityFactor: 0.75, capacityMode: 'next' }, mask);
      await expectControlled(s, { topK: 2, capacityFactor: 0.5 }, mask);
    }
  });

  it('fewer active experts run fewer expert rows: the routing totals count pairs, not slots', async () => {
    const rng = new Rng(62);
    const s = randomSpec(rng, { tokens: 40, numExperts: 8, topK: 4, normTopK: true });
    const all = await expectControlled(s, {});
    const some = await expectControlled(s, { topP: 0.5 });
    const pairs = (r: typeof all) => r.counts.reduce((a, b) => a + b, 0);
    expect(pairs(all)).toBe(40 * 4);
    expect(pairs(some)).toBeLessThan(pairs(all));
  });

  it('errors name the option: k outside 1…E, p outside (0, 1], minK over k, capacity, a mask leaving fewer than k', () => {
    const rng = new Rng(63);
    const s = randomSpec(rng, { tokens: 1, numExperts: 8, topK: 2 });
    const layer = MoELayer.create(device, s, s);
    expect(() => layer.setControls({ topK: 0 })).toThrow(/topK must be an integer in 1…8, got 0/);
    expect(() => layer.setControls({ topK: 9 })).toThrow(/topK must be an integer in 1…8, got 9/);
    expect(() => layer.setControls({ topP: 0 })).toThrow(/topP must be in \(0, 1\], got 0/);
    expect(() => layer.setControls({ topP: 1.5 })).toThrow(/topP must be in \(0, 1\], got 1.5/);
    expect(() => layer.setControls({ minK: 3 })).toThrow(/minK 3 is over topK 2/);
    expect(() => layer.setControls({ capacityFactor: -1 })).toThrow(/capacityFactor must be a positive finite number, got -1/);
    expect(() => layer.setControls({ capacityMode: 'spill' as never })).toThrow(/capacityMode must be 'drop' or 'next', got spill/);
    layer.setExpertMask([1, 1, 1, 0, 0, 0, 0, 0]);
    expect(() => layer.setControls({ topK: 4 })).toThrow(/expertMask leaves 3 experts choosable in the worst case, fewer than topK = 4/);
    layer.setControls({ topK: 3 });
    expect(() => layer.setExpertMask([1, 1, 0, 0, 0, 0, 0, 0])).toThrow(/expertMask leaves 2 experts choosable in the worst case, fewer than topK = 3/);
    expect(() => MoELayer.create(device, { ...s, topP: 2 }, s)).toThrow(/topP must be in \(0, 1\], got 2/);
    layer.destroy();
  });
});
