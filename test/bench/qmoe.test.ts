// The QMoE peers' pure parts: webmoe's q4/q8 rows repacked into onnxruntime's QMoE layout (the same
// int values and scales), the float64 QMoE reference, and, where bench/peers is installed, the QMoE
// model bytes run on onnxruntime-web's wasm CPU EP in Node (no GPU, no network; skipped without peers).
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dp4aApplies, int8Activations, MIXTRAL_SWIGLU, packQMoE, packRows, qmoeAttributes, qmoeExpertBytes, qmoeReference, routerLogits,
  unpackRows } from '../../src/bench/qmoe.js';
import { randomArray } from '../../src/gpu/timing.js';
import { QUANT } from '../../src/weights/format.js';
import { referenceMoE, referenceQuantize, relativeError } from '../../src/moe/reference.js';

const ORT_WEB = new URL('../../bench/peers/node_modules/onnxruntime-web/dist/ort.node.min.mjs', import.meta.url);

function block(T: number, H: number, I: number, E: number, k: number) {
  return {
    s: { tokens: T, hidden: H, intermediate: I, experts: E, topK: k },
    gateUp: randomArray(E * 2 * I * H, 4, 1 / Math.sqrt(H)),
    down: randomArray(E * H * I, 5, 1 / Math.sqrt(I)),
    router: randomArray(E * H, 6, 1 / Math.sqrt(H)),
    x: randomArray(T * H, 7 + T),
  };
}

describe('QMoE peer layout', () => {
  it.each(['q4', 'q8'] as const)('repacks %s rows to the same values and scales', (dtype) => {
    const v = randomArray(6 * 96, 11, 0.3);
    const { data, scales } = packRows(v, 96, dtype);
    expect(data.length).toBe((6 * 96 * (dtype === 'q4' ? 4 : 8)) / 8);
    expect(scales.length).toBe(6 * 3);
    const back = unpackRows(data, scales, 96, dtype === 'q4' ? 4 : 8);
    expect(back).toEqual(QUANT[dtype].dequantize(QUANT[dtype].quantize(v, 96), 96));
    expect(back).toEqual(referenceQuantize(v, 96, dtype));
  });

  it('stores q + 8 low nibble first, one row per output, K contiguous', () => {
    // One row of 32: q = round(v / scale) with scale = 7 / 7 = 1 (f16-exact).
    const v = Float32Array.from({ length: 32 }, (_, i) => (i % 15) - 7);
    const { data, scales } = packRows(v, 32, 'q4');
    expect(scales[0]).toBe(1);
    for (let j = 0; j < 16; j++) expect(data[j]).toBe((v[2 * j] + 8) | ((v[2 * j + 1] + 8) << 4));
  });

  it('interleaves gate and up rows per expert (swiglu_fusion = 1)', () => {
    const [H, I, E] = [32, 32, 2];
    const gateUp = Float32Array.from({ length: E * 2 * I * H }, (_, i) => Math.floor(i / H) + 1); // row r: all r + 1
    const w = packQMoE(gateUp, new Float32Array(E * H * I).fill(1), H, I, E, 'q4');
    const rows = unpackRows(w.fc1, w.fc1Scales, H, 4);
    const firsts = Array.from({ length: E * 2 * I }, (_, r) => Math.round(rows[r * H]));
    // Expert e: gate i (webmoe row 2I·e + i) at 2i, up i (row 2I·e + I + i) at 2i + 1.
    expect(firsts).toEqual(Array.from({ length: E * 2 * I }, (_, r) => {
      const [e, i] = [Math.floor(r / (2 * I)), (r % (2 * I)) >> 1];
      return 2 * I * e + (r % 2 ? I : 0) + i + 1;
    }));
  });

  it('is webmoe\'s block on its q4 weights with Mixtral\'s SwiGLU; follows another SwiGLU form when given one', () => {
    const { s, gateUp, down, router, x } = block(3, 64, 32, 8, 2);
    const w = packQMoE(gateUp, down, 64, 32, 8, 'q4');
    const ref = referenceMoE({
      hidden: 64,
      intermediate: 32,
      numExperts: 8,
      topK: 2,
      normTopK: true,
      tokens: 3,
      x,
      router,
      gateUp: referenceQuantize(gateUp, 64, 'q4'),
      down: referenceQuantize(down, 32, 'q4'),
    }).y;
    expect(relativeError(qmoeReference(s, w, x, router, 3), ref)).toBeLessThan(1e-12);
    expect(relativeError(qmoeReference(s, w, x, router, 3, { form: { alpha: 1.702, beta: 1, limit: 7 } }), ref)).toBeGreaterThan(0.1);
  });

  it('sets the attributes that make QMoE webmoe\'s block', () => {
    expect(qmoeAttributes(4, 4, 32)).toEqual({
      k: 4,
      activation_type: 'swiglu',
      swiglu_fusion: 1,
      normalize_routing_weights: 1,
      expert_weight_bits: 4,
      block_size: 32,
      activation_alpha: { float: 1 },
      activation_beta: { float: 0 },
    });
    expect(qmoeAttributes(2, 8, 32, { alpha: 1.702, beta: 1, limit: 7 }).swiglu_limit).toEqual({ float: 7 });
    expect(qmoeExpertBytes(64, 32, 4, 32)).toBe((3 * 64 * 32) / 2 + 4 * 3 * 64);
    expect(MIXTRAL_SWIGLU).toEqual({ alpha: 1, beta: 0, limit: Infinity });
  });

  it('quantizes activations to int8 per block as ORT\'s DP4A path, where that path applies', () => {
    const a = Float32Array.from([127, 1.4, -63.5, 0.49, 2, 0, 0, 0]);
    // pack4x8snorm's rounding, floor(0.5 + 127·a/max): −63.5 → −63.
    expect([...int8Activations(a, 4)]).toEqual([127, 1, -63, 0, 127 * Math.fround(2 / 127), 0, 0, 0]);
    expect(dp4aApplies(2048, 1536, 128)).toBe(true);
    expect(dp4aApplies(192, 512, 128)).toBe(false); // the quick shape's fc2: K = I = 192
    const { s, gateUp, down, router, x } = block(2, 128, 128, 8, 2);
    const w = packQMoE(gateUp, down, 128, 128, 8, 'q4');
    const err = relativeError(qmoeReference(s, w, x, router, 2, { int8Block: 128 }), qmoeReference(s, w, x, router, 2));
    expect(err).toBeGreaterThan(1e-3);
    expect(err).toBeLessThan(5e-2);
  });

  it.skipIf(!existsSync(ORT_WEB))('runs as one QMoE node on onnxruntime-web\'s wasm CPU EP, matching the reference', async () => {
    const ort = await import(/* @vite-ignore */ ORT_WEB.href);
    const { qmoeModel } = await import(/* @vite-ignore */ new URL('../../bench/peers/onnx.mjs', import.meta.url).href);
    ort.env.wasm.numThreads = 1;
    for (const [T, dtype] of [[3, 'q4'], [1, 'q8']] as const) {
      const { s, gateUp, down, router, x } = block(T, 64, 32, 8, 2);
      const w = packQMoE(gateUp, down, 64, 32, 8, dtype);
      const session = await ort.InferenceSession.create(qmoeModel(s, w, qmoeAttributes(2, w.bits, w.block)), { executionProviders: ['wasm'] });
      const out = await session.run({
        X: new ort.Tensor('float32', x, [T, 64]),
        L: new ort.Tensor('float32', routerLogits(x, router, T, 64, 8), [T, 8]),
      });
      expect(relativeError(out.Y.data as Float32Array, qmoeReference(s, w, x, router, T))).toBeLessThan(1e-5);
      await session.release();
    }
  }, 60_000);
});
