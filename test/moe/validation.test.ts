import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MoEInputError, MoELayer, type MoESpec, runMoE } from '../../src/index.js';
import { testDevice } from '../helpers/gpu.js';
import { randomSpec } from '../helpers/spec.js';
import { referenceMoE, relativeError } from '../../src/moe/reference.js';
import { Rng } from '../ref/rng.js';

let device: GPUDevice;
beforeAll(async () => {
  device = await testDevice();
});
afterAll(() => device?.destroy());

const base = () => randomSpec(new Rng(51), { tokens: 3, numExperts: 4, topK: 2, hidden: 8, intermediate: 6 });

async function rejects(over: Partial<MoESpec>, message: RegExp) {
  const err = await runMoE(device, { ...base(), ...over }).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(MoEInputError);
  expect((err as Error).message).toMatch(message);
}

describe('bad input gets an error naming the field, expected and given', () => {
  it('weights of the wrong size', async () => {
    await rejects({ gateUp: new Float32Array(10) }, /gateUp has 10 elements, expected numExperts·2·intermediate·hidden = 4·2·6·8 = 384/);
    await rejects({ down: new Float32Array(191) }, /down has 191 elements, expected numExperts·hidden·intermediate = 4·8·6 = 192/);
    await rejects({ router: new Float32Array(31) }, /router has 31 elements, expected numExperts·hidden = 4·8 = 32/);
    await rejects({ x: new Float32Array(23) }, /x has 23 elements, expected tokens·hidden = 3·8 = 24/);
    await rejects({ routerBias: new Float32Array(5) }, /routerBias has 5 elements, expected numExperts = 4/);
    await rejects({ gateUp: [1, 2] as unknown as Float32Array }, /gateUp must be a Float32Array/);
    await rejects({ shared: { intermediate: 3, gateUp: new Float32Array(48), down: new Float32Array(23) } },
      /shared.down has 23 elements, expected hidden·shared.intermediate = 8·3 = 24/);
    await rejects({ gateUpBias: new Float32Array(24) }, /gateUpBias has 24 elements, expected numExperts·2·intermediate = 4·2·6 = 48/);
    await rejects({ downBias: new Float32Array(33) }, /downBias has 33 elements, expected numExperts·hidden = 4·8 = 32/);
  });

  it('bad activations, and expert biases given to a block with an external backend', async () => {
    await rejects({ activation: { kind: 'gelu' } as unknown as MoESpec['activation'] }, /activation.kind must be 'swiglu' or 'swiglu_clamped', got gelu/);
    await rejects({ activation: { kind: 'swiglu_clamped', alpha: 1.702, limit: 0 } }, /activation.limit must be a positive finite number, got 0/);
    await rejects({ activation: { kind: 'swiglu_clamped', alpha: NaN, limit: 7 } }, /activation.alpha must be finite, got NaN/);
    const s = base();
    const backend = { plan: () => [], needs: () => ({ bytes: 0, grid: 0 }), tune: async () => [], destroy: () => {} };
    for (const over of [{ downBias: new Float32Array(32) }, { gateUpBias: new Float32Array(48) }]) {
      expect(() => MoELayer.withExperts(device, s, { ...s, ...over }, backend)).toThrow(
        /expert biases go to the external experts \(ExternalExperts.bias\), not to the block/,
      );
    }
  });

  it('k > E, E = 0, bad routing settings', async () => {
    await rejects({ topK: 5 }, /topK must be an integer in 1…4, got 5/);
    await rejects({ topK: 0 }, /topK must be an integer in 1…4, got 0/);
    await rejects({ numExperts: 0 }, /numExperts must be an integer in 1…512, got 0/);
    await rejects({ nGroup: 3 }, /nGroup 3 must divide numExperts 4/);
    await rejects({ nGroup: 2, topkGroup: 3 }, /topkGroup must be an integer in 1…2, got 3/);
    await rejects({ scoring: 'sigmoid', topkBeforeSoftmax: true }, /topkBeforeSoftmax needs scoring 'softmax'/);
    await rejects({ scoring: 'relu' as 'softmax' }, /scoring must be 'softmax' or 'sigmoid', got relu/);
    await rejects({ groupScore: 'sum' as 'max' }, /groupScore must be 'top2Sum' or 'max', got sum/);
    await rejects({ dtype: 'bf16' as 'f16' }, /dtype must be one of 'f32', 'f16', 'q8', 'q4', got bf16/);
    await rejects({ expertMask: [1, 0, 0, 0] }, /expertMask leaves 1 experts choosable in the worst case, fewer than topK = 2/);
    await rejects({ nGroup: 4, topkGroup: 1 }, /topkGroup 1 of 4 groups leaves 1 experts choosable in the worst case, fewer than topK = 2/);
    await rejects({ nGroup: 2, topkGroup: 1, expertMask: [1, 0, 1, 1] }, /topkGroup 1 of 2 groups leaves 1 experts choosable/);
    await rejects({ tokens: -1 }, /tokens must be an integer in 0…65535, got -1/);
  });

  it('a call too large for one dispatch grid is refused before any work', async () => {
    // 65535 tokens × k 64 = 4 194 240 rows: 131 134 blocks of 32, over maxComputeWorkgroupsPerDimension.
    const s = randomSpec(new Rng(53), { tokens: 65535, numExperts: 64, topK: 64, hidden: 1, intermediate: 1 });
    await expect(runMoE(device, s)).rejects.toThrow(
      /65535 tokens need 131134 workgroups in one grid dimension, over the device's 65535: run fewer tokens per call/,
    );
  });

  it('T = 0 returns empty results without a dispatch', async () => {
    const r = await runMoE(device, { ...base(), tokens: 0, x: new Float32Array(0) });
    expect(r.y.length).toBe(0);
    expect(r.expertIds.length).toBe(0);
    expect(Array.from(r.expertCounts)).toEqual([0, 0, 0, 0]);
  });

  it('f16 weights on a device without shader-f16 still run (packed f16, unpacked in the kernels)', async () => {
    const plain = await testDevice({ f16: false });
    expect(plain.features.has('shader-f16')).toBe(false);
    const s = { ...randomSpec(new Rng(52), { tokens: 7, numExperts: 8, topK: 2 }), dtype: 'f16' as const };
    const got = await runMoE(plain, s);
    const ref = referenceMoE(s, got.expertIds);
    expect(ref.rejected).toEqual([]);
    expect(relativeError(got.y, ref.y)).toBeLessThanOrEqual(3e-3);
    plain.destroy();
  });
});
