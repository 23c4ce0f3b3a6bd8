// q8 / q4 expert weights in whole MoE blocks (GEMV and GEMM paths, shared expert, binding splits)
// against the float64 reference run on the dequantized weights (the packing itself:
// test/weights/formats.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MoESpec, runMoE } from '../../src/index.js';
import { referenceMoE, referenceQuantize, relativeError } from '../../src/moe/reference.js';
import { testDevice } from '../helpers/gpu.js';
import { gptOssExperts, randomSpec } from '../helpers/spec.js';
import { Rng } from '../ref/rng.js';

const MiB = 1 << 20;
const DTYPES = ['q8', 'q4'] as const;
let device: GPUDevice;
let small: GPUDevice; // 256 KiB storage bindings
beforeAll(async () => {
  device = await testDevice();
  small = await testDevice({ maxStorageBufferBindingSize: 256 * 1024 });
});
afterAll(() => {
  device?.destroy();
  small?.destroy();
});

/** The spec with its expert weights replaced by their quantized → dequantized values (float64 definition). */
function dequantized(s: MoESpec, dtype: 'q8' | 'q4'): MoESpec {
  const { hidden: H, intermediate: I } = s;
  return {
    ...s,
    dtype: 'f32',
    gateUp: referenceQuantize(s.gateUp, H, dtype),
    down: referenceQuantize(s.down, I, dtype),
    shared: s.shared && {
      ...s.shared,
      gateUp: referenceQuantize(s.shared.gateUp, H, dtype),
      down: referenceQuantize(s.shared.down, s.shared.intermediate, dtype),
    },
  };
}

async function expectBlock(dev: GPUDevice, s: MoESpec, dtype: 'q8' | 'q4') {
  const got = await runMoE(dev, { ...s, dtype });
  const ref = referenceMoE(dequantized(s, dtype), got.expertIds);
  const what = JSON.stringify({ T: s.tokens, E: s.numExperts, k: s.topK, H: s.hidden, I: s.intermediate, dtype });
  expect(ref.rejected, what).toEqual([]);
  expect(relativeError(got.y, ref.y), what).toBeLessThanOrEqual(1e-5);
  // The error of quantization itself, against the unquantized block: reported, loosely bounded.
  return relativeError(got.y, referenceMoE(s, got.expertIds).y);
}

describe('quantized expert weights', () => {
  it('MoE blocks on random shapes and seeds, GEMV and GEMM paths (≤ 1e-5 vs the dequantized reference)', async () => {
    const rng = new Rng(83);
    const errors: Record<string, number[]> = { q8: [], q4: [] };
    for (let i = 0; i < 8; i++) {
      const dtype = DTYPES[i % 2];
      const dim = () => rng.pick([5, 31, 33, 64, 70, 97]);
      const s = randomSpec(rng, { tokens: rng.pick([1, 3, 7, 64]), hidden: dim(), intermediate: dim(), normTopK: true });
      errors[dtype].push(await expectBlock(device, s, dtype));
    }
    // Accuracy vs the f32 weights (not the point of this test): loose sanity bounds.
    expect(Math.max(...errors.q8)).toBeLessThan(0.03);
    expect(Math.max(...errors.q4)).toBeLessThan(0.4);
  });

  it('one token, k = E, experts with no tokens, a shared expert', async () => {
    const rng = new Rng(84);
    for (const dtype of DTYPES) {
      await expectBlock(device, randomSpec(rng, { tokens: 1, numExperts: 8, topK: 8, hidden: 40, intermediate: 33 }), dtype);
      await expectBlock(device, randomSpec(rng, { tokens: 2, numExperts: 64, topK: 1, hidden: 33, intermediate: 20 }), dtype);
      await expectBlock(device, randomSpec(rng, { tokens: 9, numExperts: 64, topK: 2, hidden: 33, intermediate: 20 }), dtype);
      for (const tokens of [1, 7]) {
        const s = randomSpec(rng, { tokens, numExperts: 4, topK: 2, hidden: 45, intermediate: 37 });
        const S = 50;
        s.shared = {
          intermediate: S,
          gateUp: rng.array(2 * S * s.hidden, 1 / Math.sqrt(s.hidden)),
          down: rng.array(s.hidden * S, 1 / Math.sqrt(S)),
          gate: rng.array(s.hidden, 1 / Math.sqrt(s.hidden)),
        };
        await expectBlock(device, s, dtype);
      }
    }
  });

  it('gpt-oss experts (biases, clamped SwiGLU), GEMV and GEMM paths, split bindings', async () => {
    const rng = new Rng(86);
    for (const dtype of DTYPES) {
      for (const tokens of [1, 32]) {
        const base = randomSpec(rng, { tokens, numExperts: 8, topK: 2, hidden: rng.pick([33, 64, 70]), intermediate: rng.pick([31, 64, 97]) });
        await expectBlock(device, { ...base, ...gptOssExperts(rng, base) }, dtype);
      }
      const big = randomSpec(rng, { tokens: 7, numExperts: 4, topK: 2, hidden: 300, intermediate: 400 });
      await expectBlock(small, { ...big, ...gptOssExperts(rng, big) }, dtype);
    }
  });

  it('weights split over 256 KiB bindings (whole experts and column ranges) give the unsplit result', async () => {
    const rng = new Rng(85);
    for (const dtype of DTYPES) {
      for (const tokens of [2, 32]) {
        // q8 gate/up of one expert: 2·400·(10·8+5)·4 B = 272 000 B → column ranges; q4 152 000 B and
        // down (q8 133 200 B, q4 ~70 KB) → whole experts per binding.
        const s = randomSpec(rng, { tokens, numExperts: 4, topK: 2, hidden: 300, intermediate: 400, normTopK: true });
        expect(s.gateUp.byteLength).toBeGreaterThan(MiB);
        await expectBlock(small, s, dtype);
        expect(Array.from((await runMoE(small, { ...s, dtype })).y)).toEqual(Array.from((await runMoE(device, { ...s, dtype })).y));
      }
    }
  });
});
