// Weights over the device's storage-binding limit are split across bindings (DESIGN: OLMoE's f16
// experts take 512 MiB a layer against lavapipe's 128 MiB). Forced here with a 1 MiB limit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MoEInputError, planChunks, runMoE } from '../../src/index.js';
import { testDevice } from '../helpers/gpu.js';
import { randomSpec } from '../helpers/spec.js';
import { referenceMoE, relativeError } from '../../src/moe/reference.js';
import { Rng } from '../ref/rng.js';

const MiB = 1 << 20;
let device: GPUDevice;
let whole: GPUDevice; // the adapter's own limit: every weight in one binding
beforeAll(async () => {
  device = await testDevice({ maxStorageBufferBindingSize: MiB });
  whole = await testDevice();
});
afterAll(() => {
  device?.destroy();
  whole?.destroy();
});

describe('weights split across storage bindings', () => {
  it('plans whole experts per binding while one fits, else column ranges of one expert', () => {
    // gate/up of one expert: 2·300·200·4 B = 480 000 B → two experts per MiB.
    expect(planChunks({ experts: 8, parts: 2, outputs: 300, inner: 200 }, 'f32', MiB).map((c) => [c.e0, c.e1, c.n0, c.n1]))
      .toEqual([[0, 2, 0, 300], [2, 4, 0, 300], [4, 6, 0, 300], [6, 8, 0, 300]]);
    // 2·700·200·4 B = 1 120 000 B per expert → columns: 1 MiB / 1600 B = 655 columns per binding.
    expect(planChunks({ experts: 2, parts: 2, outputs: 700, inner: 200 }, 'f32', MiB).map((c) => [c.e0, c.e1, c.n0, c.n1]))
      .toEqual([[0, 1, 0, 655], [0, 1, 655, 700], [1, 2, 0, 655], [1, 2, 655, 700]]);
    expect(() => planChunks({ experts: 1, parts: 2, outputs: 4, inner: 200_000 }, 'f32', MiB, 'layer 3 experts gate/up')).toThrow(
      /^webmoe: layer 3 experts gate\/up: one output column of an expert \(2 × 200000 f32 inputs\) needs 1600000 bytes, over this device's storage binding limit of 1048576 \(maxStorageBufferBindingSize\)/,
    );
  });

  for (const [intermediate, what] of [[300, 'several experts'], [700, 'part of one expert']] as const) {
    for (const tokens of [2, 32]) {
      it(`a 1 MiB binding limit holding ${what} per binding, ${tokens} tokens, gives the unsplit result`, async () => {
        const rng = new Rng(intermediate + tokens);
        const s = randomSpec(rng, { tokens, numExperts: 8, topK: 2, hidden: 200, intermediate, normTopK: true });
        expect(s.gateUp.byteLength).toBeGreaterThan(3 * MiB);
        const got = await runMoE(device, s);
        const ref = referenceMoE(s, got.expertIds);
        expect(ref.rejected).toEqual([]);
        expect(relativeError(got.y, ref.y)).toBeLessThanOrEqual(1e-5);
        // Each output is computed in the same order whatever binding holds its weights: bit-identical.
        expect(Array.from(got.y)).toEqual(Array.from((await runMoE(whole, s)).y));
      });
    }
  }

  it('activations over the limit are a clear error, not a wrong answer', async () => {
    const rng = new Rng(7);
    const s = randomSpec(rng, { tokens: 300, numExperts: 8, topK: 8, hidden: 200, intermediate: 30 });
    await expect(runMoE(device, s)).rejects.toThrow(MoEInputError);
    await expect(runMoE(device, s)).rejects.toThrow(/300 tokens need a \d+-byte activation buffer, over the storage binding limit of 1048576/);
  });
});
