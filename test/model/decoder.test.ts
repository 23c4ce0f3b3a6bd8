// The shared decoder forward against golden logits of an independent float64 PyTorch reference,
// for each family's Hub layout; the KV-cache decode against a full recompute; sliding windows' ring
// caches past their length.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capStorageBinding } from '../../src/gpu/limits.js';
import { relativeError } from '../../src/moe/reference.js';
import { testDevice } from '../helpers/gpu.js';
import { DTYPE_MODELS, FAMILY_MODELS, fixtureDecoder, golden, SLIDING_MODELS } from '../helpers/models.js';

/** Relative L2 error of every position's logits. */
function positionErrors(flat: Float32Array, expected: number[][]): number[] {
  const V = expected[0].length;
  return expected.map((row, t) => relativeError(flat.subarray(t * V, (t + 1) * V), row));
}

describe('decoder forward vs float64 reference', () => {
  let device: GPUDevice;
  beforeAll(async () => {
    device = await testDevice();
  });
  afterAll(() => device.destroy());

  for (const name of [...FAMILY_MODELS, ...DTYPE_MODELS]) {
    it(`${name}: f32 logits of every position within 1e-4`, async () => {
      const g = golden(name);
      const decoder = await fixtureDecoder(device, name);
      const errors = positionErrors(await decoder.forward(g.tokens, 0, 'all'), g.logits);
      decoder.destroy();
      expect(Math.max(...errors)).toBeLessThan(1e-4);
    });
  }

  for (const name of FAMILY_MODELS) {
    it(`${name}: KV-cache decode equals the full recompute`, async () => {
      const g = golden(name);
      const decoder = await fixtureDecoder(device, name);
      const full = await decoder.forward(g.tokens, 0, 'all');
      const V = g.logits[0].length;
      const prefill = await decoder.forward(g.tokens.slice(0, 3), 0, 'last');
      expect(relativeError(prefill, full.subarray(2 * V, 3 * V))).toBeLessThan(1e-5);
      for (let t = 3; t < g.tokens.length; t++) {
        const step = await decoder.forward([g.tokens[t]], t, 'last');
        expect(relativeError(step, full.subarray(t * V, (t + 1) * V))).toBeLessThan(1e-5);
      }
      decoder.destroy();
    });
  }

  for (const name of SLIDING_MODELS) {
    it(`${name}: a prompt far past the window, in one forward (pieces through the ring) and token by token`, async () => {
      const g = golden(name, 'long');
      const V = g.logits[0].length;
      const decoder = await fixtureDecoder(device, name);
      // the ring is shorter than the prompt, so the prefill runs in pieces and the ring wraps
      expect(decoder.maxTokens).toBeLessThan(g.tokens.length / 3);
      const full = await decoder.forward(g.tokens, 0, 'all');
      expect(Math.max(...positionErrors(full, g.logits))).toBeLessThan(1e-4);
      await decoder.forward(g.tokens.slice(0, 2), 0, 'last');
      for (let t = 2; t < g.tokens.length; t++) {
        const step = await decoder.forward([g.tokens[t]], t, 'last');
        expect(relativeError(step, full.subarray(t * V, (t + 1) * V)), `position ${t}`).toBeLessThan(1e-5);
      }
      decoder.destroy();
    });
  }

  it('f16 storage stays within f16 rounding of the reference', async () => {
    for (const name of FAMILY_MODELS) {
      const g = golden(name);
      const decoder = await fixtureDecoder(device, name, { dtype: 'f16' });
      const errors = positionErrors(await decoder.forward(g.tokens, 0, 'all'), g.logits);
      decoder.destroy();
      expect(Math.max(...errors), name).toBeLessThan(5e-3);
    }
  });
});

describe('decoder on a device with tiny storage bindings', () => {
  it('a sliding layer\'s cache is a ring of 2 windows, whatever the context length', async () => {
    const device = await testDevice();
    capStorageBinding(device, 16384); // a full cache of 4096 positions takes 512 KiB a binding, a ring of 8: 1 KiB
    await expect(fixtureDecoder(device, 'mixtral', { contextLength: 4096 })).rejects.toThrow(/KV cache for 4096 positions needs 524288 bytes/);
    const decoder = await fixtureDecoder(device, 'mixtral_sliding', { contextLength: 4096 });
    expect(decoder.maxTokens).toBe(5); // a ring of 8 keeps the 4 − 1 positions before a piece of 5
    decoder.destroy();
    device.destroy();
  });

  it('splits embedding, lm_head and expert matrices and still matches', async () => {
    const device = await testDevice();
    capStorageBinding(device, 16384); // the [320, 64] embedding and lm_head: 5 bindings each
    for (const name of ['mixtral', 'granitemoe']) {
      const g = golden(name);
      const decoder = await fixtureDecoder(device, name, { contextLength: 16 });
      const errors = positionErrors(await decoder.forward(g.tokens, 0, 'all'), g.logits);
      decoder.destroy();
      expect(Math.max(...errors), name).toBeLessThan(1e-4);
    }
    device.destroy();
  });
});
