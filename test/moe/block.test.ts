import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MoELayer, type MoELayerOptions, type MoESpec, runMoE } from '../../src/index.js';
import { readBuffers, uploadBuffer } from '../../src/gpu/workspace.js';
import { checked, poisoned, testDevice } from '../helpers/gpu.js';
import { gptOssExperts, randomRouting, randomSpec } from '../helpers/spec.js';
import { referenceMoE, relativeError } from '../../src/moe/reference.js';
import { Rng } from '../ref/rng.js';

let device: GPUDevice;
beforeAll(async () => {
  device = await testDevice();
});
afterAll(() => device?.destroy());

/** The block through MoELayer into a poisoned output buffer. */
async function gpuMoE(s: MoESpec, options: MoELayerOptions = {}) {
  return checked(device, async () => {
    const layer = MoELayer.create(device, s, s, options);
    const x = uploadBuffer(device, s.x, 'x');
    const y = poisoned(device, s.tokens * s.hidden * 4);
    const enc = device.createCommandEncoder();
    layer.encode(enc, x, y, s.tokens);
    const r = layer.routing();
    const [yb, ib, wb, cb] = await readBuffers(device, [y, r.ids, r.weights, r.counts], enc);
    layer.destroy();
    x.destroy();
    y.destroy();
    const n = s.tokens * s.topK;
    return {
      y: new Float32Array(yb, 0, s.tokens * s.hidden),
      expertIds: new Uint32Array(ib, 0, n),
      weights: new Float32Array(wb, 0, n),
      expertCounts: new Uint32Array(cb, 0, s.numExperts),
    };
  });
}

function expectMatches(got: Awaited<ReturnType<typeof gpuMoE>>, s: MoESpec, tol: number) {
  const ref = referenceMoE(s, got.expertIds);
  const what = JSON.stringify({ T: s.tokens, E: s.numExperts, k: s.topK, H: s.hidden, I: s.intermediate, dtype: s.dtype });
  expect(ref.rejected, what).toEqual([]);
  expect(Array.from(got.expertIds), what).toEqual(ref.ids.flat());
  expect(relativeError(got.weights, ref.weights.flat()), what).toBeLessThanOrEqual(1e-5);
  expect(Array.from(got.expertCounts), what).toEqual(ref.counts);
  expect(got.y.length).toBe(ref.y.length);
  expect(relativeError(got.y, ref.y), what).toBeLessThanOrEqual(tol);
}

describe('MoE block vs float64 reference', () => {
  it('random shapes, seeds and routing variants, f32 weights (≤ 1e-5)', async () => {
    const rng = new Rng(41);
    for (let i = 0; i < 16; i++) {
      const E = rng.pick([1, 4, 8, 32, 64]);
      const s = randomSpec(rng, { numExperts: E, ...randomRouting(rng, E) });
      expectMatches(await gpuMoE(s), s, 1e-5);
    }
  });

  it('f16 weights (≤ 3e-3 against the f32 weights)', async () => {
    const rng = new Rng(42);
    for (let i = 0; i < 6; i++) {
      const s = randomSpec(rng, { dtype: 'f16' });
      expectMatches(await gpuMoE(s), s, 3e-3);
    }
  });

  it('the decode GEMV path and the grouped GEMM path agree for the same tokens', async () => {
    const rng = new Rng(43);
    for (const tokens of [1, 2, 7]) {
      const s = randomSpec(rng, { tokens, numExperts: 8, topK: 2, normTopK: true });
      expectMatches(await gpuMoE(s, { decodeMaxTokens: 0 }), s, 1e-5);
      expectMatches(await gpuMoE(s, { decodeMaxTokens: 16 }), s, 1e-5);
    }
  });

  it('k = E, one token, one expert, hidden and intermediate 1', async () => {
    const rng = new Rng(44);
    for (const over of [
      { numExperts: 64, topK: 64, tokens: 7 },
      { numExperts: 8, topK: 8, tokens: 300, normTopK: true },
      { numExperts: 1, topK: 1, tokens: 64 },
      { numExperts: 32, topK: 4, tokens: 1 },
      { numExperts: 4, topK: 2, tokens: 7, hidden: 1, intermediate: 1 },
      { numExperts: 4, topK: 2, tokens: 1, hidden: 1, intermediate: 1, dtype: 'f16' as const },
    ]) {
      const s = randomSpec(rng, over);
      expectMatches(await gpuMoE(s), s, s.dtype === 'f16' ? 3e-3 : 1e-5);
    }
  });

  it('all tokens on one expert, and experts that get no token', async () => {
    const rng = new Rng(45);
    const routerBias = new Float32Array(8);
    routerBias[5] = 100; // every token picks expert 5 first
    const s = randomSpec(rng, { numExperts: 8, topK: 1, tokens: 300, routerBias });
    const got = await gpuMoE(s);
    expect(got.expertCounts[5]).toBe(300);
    expectMatches(got, s, 1e-5);
    const masked = randomSpec(rng, { numExperts: 8, topK: 2, tokens: 64, expertMask: [1, 1, 0, 0, 0, 0, 1, 1] });
    const m = await gpuMoE(masked);
    expect(Array.from(m.expertCounts.slice(2, 6))).toEqual([0, 0, 0, 0]);
    expectMatches(m, masked, 1e-5);
  });

  it('a shared expert, with a sigmoid gate (Qwen2-MoE) and without one', async () => {
    const rng = new Rng(46);
    const withShared = (tokens: number, gated: boolean) => {
      const s = randomSpec(rng, { numExperts: 8, topK: 2, tokens });
      const S = rng.int(5, 50);
      s.shared = {
        intermediate: S,
        gateUp: rng.array(2 * S * s.hidden, 1 / Math.sqrt(s.hidden)),
        down: rng.array(s.hidden * S, 1 / Math.sqrt(S)),
        gate: gated ? rng.array(s.hidden, 1 / Math.sqrt(s.hidden)) : undefined,
      };
      return s;
    };
    for (const gated of [true, false]) {
      const s = withShared(rng.pick([1, 64]), gated);
      expectMatches(await gpuMoE(s), s, 1e-5);
    }
    // Several tokens on the GEMV path: the shared expert's slots share workgroups (moe_gemv.wgsl SLOTS
    // 4: one group of 3 slots, two of 7).
    for (const tokens of [3, 7]) {
      const s = withShared(tokens, true);
      expectMatches(await gpuMoE(s, { decodeMaxTokens: 8 }), s, 1e-5);
    }
  });

  it('gpt-oss experts (router bias, top-k → softmax, expert biases, clamped SwiGLU): random shapes, both paths, f32 and f16', async () => {
    const rng = new Rng(50);
    for (let i = 0; i < 6; i++) {
      const base = randomSpec(rng, { tokens: rng.pick([1, 2, 7, 64]), numExperts: rng.pick([4, 8, 32]), dtype: i % 4 === 3 ? 'f16' : 'f32' });
      const s = { ...base, ...gptOssExperts(rng, base) };
      const tol = s.dtype === 'f16' ? 3e-3 : 1e-5;
      expectMatches(await gpuMoE(s, { decodeMaxTokens: 0 }), s, tol);
      if (s.tokens <= 7) expectMatches(await gpuMoE(s, { decodeMaxTokens: 16 }), s, tol);
    }
    // one token with k = E; every token on expert 5 first (its bias wins), experts that get no token
    const one = randomSpec(rng, { tokens: 1, numExperts: 8, topK: 8 });
    const all = randomSpec(rng, { tokens: 64, numExperts: 8, topK: 1, hidden: 33, intermediate: 45 });
    const routerBias = new Float32Array(8);
    routerBias[5] = 100;
    for (const s of [{ ...one, ...gptOssExperts(rng, one) }, { ...all, ...gptOssExperts(rng, all), routerBias }]) {
      const got = await gpuMoE(s);
      expectMatches(got, s, 1e-5);
      if (s.topK === 1) expect(got.expertCounts[5]).toBe(64);
    }
  });

  it('runMoE returns the same as MoELayer, and setExpertMask steers a live layer', async () => {
    const rng = new Rng(47);
    const s = randomSpec(rng, { numExperts: 8, topK: 2, tokens: 7 });
    const direct = await gpuMoE(s);
    const viaRun = await runMoE(device, s);
    expect(Array.from(viaRun.y)).toEqual(Array.from(direct.y));
    expect(Array.from(viaRun.expertIds)).toEqual(Array.from(direct.expertIds));

    const layer = MoELayer.create(device, s, s);
    const x = uploadBuffer(device, s.x, 'x');
    const y = poisoned(device, s.x.byteLength);
    const mask = [0, 1, 1, 0, 1, 1, 1, 1];
    layer.setExpertMask(mask);
    const enc = device.createCommandEncoder();
    layer.encode(enc, x, y, s.tokens);
    const [yb, ib] = await readBuffers(device, [y, layer.routing().ids], enc);
    const ids = new Uint32Array(ib, 0, s.tokens * s.topK);
    const ref = referenceMoE({ ...s, expertMask: mask }, ids);
    expect(ref.rejected).toEqual([]);
    expect(Array.from(ids).some((e) => e === 0 || e === 3)).toBe(false);
    expect(relativeError(new Float32Array(yb, 0, s.tokens * s.hidden), ref.y)).toBeLessThanOrEqual(1e-5);
    layer.destroy();
  });

  it('one encoder holds several calls of a layer on different buffers and token counts', async () => {
    const rng = new Rng(48);
    const s = randomSpec(rng, { numExperts: 8, topK: 2, tokens: 7, normTopK: true });
    const inputs = [7, 7, 2].map((tokens) => ({ tokens, x: rng.array(tokens * s.hidden) }));
    const layer = MoELayer.create(device, s, s);
    const enc = device.createCommandEncoder();
    const ys = inputs.map(({ tokens, x }) => {
      const y = poisoned(device, tokens * s.hidden * 4);
      layer.encode(enc, uploadBuffer(device, x, 'x'), y, tokens);
      return y;
    });
    const outs = await readBuffers(device, ys, enc);
    inputs.forEach(({ tokens, x }, i) => {
      const ref = referenceMoE({ ...s, tokens, x });
      expect(relativeError(new Float32Array(outs[i], 0, tokens * s.hidden), ref.y)).toBeLessThanOrEqual(1e-5);
    });
    layer.destroy();
  });
});

describe('MoE block on a device with only WebGPU default limits', () => {
  it('every tile configuration fits 16 KiB of workgroup memory and 128 MiB bindings', async () => {
    const plain = await testDevice({ limits: 'default' });
    expect(plain.limits.maxComputeWorkgroupStorageSize).toBe(16384);
    const rng = new Rng(49);
    // Tile heights 8, 16 and 32 (rows per expert ≤ 8, ≤ 16, more), the decode path, E = 512.
    for (const over of [
      { tokens: 64, numExperts: 64, topK: 8 },
      { tokens: 64, numExperts: 32, topK: 8 },
      { tokens: 300, numExperts: 8, topK: 2 },
      { tokens: 2, numExperts: 512, topK: 16, hidden: 12, intermediate: 8 },
      { tokens: 7, numExperts: 512, topK: 4, hidden: 12, intermediate: 8, scoring: 'sigmoid' as const, nGroup: 8, topkGroup: 4 },
    ]) {
      const s = randomSpec(rng, over);
      const got = await runMoE(plain, s);
      const ref = referenceMoE(s, got.expertIds);
      expect(ref.rejected).toEqual([]);
      expect(relativeError(got.y, ref.y)).toBeLessThanOrEqual(1e-5);
    }
    plain.destroy();
  });
});
