// The synthetic GraniteMoE checkpoint (random weights made per byte range) and the weight-bandwidth
// floor of a model's decode: active bytes per token by hand, and a scaled-down model that loads as
// q4, generates and is benchmarked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/api/engine.js';
import { copyRecord } from '../../src/bench/cases.js';
import { benchCachedModel } from '../../src/bench/expertCache.js';
import { activeBytesPerToken, benchModel, copyBandwidth } from '../../src/bench/model.js';
import { GRANITE_3_1_1B_A400M, syntheticGraniteSource } from '../../src/bench/synthetic.js';
import { openCheckpoint } from '../../src/io/checkpoint.js';
import { decodeToF32 } from '../../src/io/dtype.js';
import { readRange } from '../../src/io/source.js';
import type { ModelConfig } from '../../src/model/config.js';
import { readConfig } from '../../src/model/families/registry.js';
import { swigluExpertBytes } from '../../src/weights/matrix.js';
import { testDevice } from '../helpers/gpu.js';

const GATE_UP = 'model.layers.1.block_sparse_moe.input_linear.weight';

async function bytesOf(seed: number, name: string, start: number, end: number, cuts: number[] = []): Promise<Uint8Array> {
  const source = syntheticGraniteSource({ seed, scale: { layers: 2 } });
  const ckpt = await openCheckpoint(source);
  const t = ckpt.tensors.get(name)!;
  const f = (await source.open(t.file))!;
  const out = new Uint8Array(end - start);
  const bounds = [start, ...cuts, end].map((b, i, all) => (i === 0 || i === all.length - 1 ? b : start + b));
  for (let i = 0; i + 1 < bounds.length; i++) out.set(await readRange(f, t.begin + bounds[i], t.begin + bounds[i + 1]), bounds[i] - start);
  return out;
}

describe('synthetic granite-3.1-1b-a400m', () => {
  it('has the Hub config and a header that parses into its tensors', async () => {
    const full = syntheticGraniteSource();
    const ckpt = await openCheckpoint(full);
    const { config: c } = readConfig(ckpt.config);
    expect(c).toMatchObject({
      family: 'granitemoe',
      vocab: 49155,
      hidden: 1024,
      layers: 24,
      heads: 16,
      kvHeads: 8,
      headDim: 64,
      experts: 32,
      topK: 8,
      moeIntermediate: 512,
      tieEmbeddings: true,
      embeddingScale: 12,
      attentionScale: 0.015625,
      residualScale: 0.22,
      logitsScale: 1 / 6,
      rope: { invFreq: Array.from({ length: 32 }, (_, i) => 1500000 ** (-i / 32)), attentionFactor: 1 },
      rmsEps: 1e-6,
      eosTokenIds: [],
    });
    expect(ckpt.tensors.size).toBe(2 + 24 * 9);
    expect(ckpt.tensors.get('model.layers.23.block_sparse_moe.input_linear.weight')).toMatchObject({ dtype: 'BF16', shape: [32, 1024, 1024] });
    expect(ckpt.tensors.get('model.layers.0.self_attn.k_proj.weight')!.shape).toEqual([512, 1024]);
    expect(ckpt.tensors.has('lm_head.weight')).toBe(false);
    expect(ckpt.bytes).toBeGreaterThan(2.6e9);
    expect(full.bytes).toBe(ckpt.files[0].size);

    const small = await openCheckpoint(syntheticGraniteSource({ scale: { layers: 2, vocab: 1000, experts: 4 } }));
    expect(readConfig(small.config).config).toMatchObject({ layers: 2, vocab: 1000, experts: 4, topK: 4 });
    expect(small.tensors.get('model.layers.1.block_sparse_moe.output_linear.weight')!.shape).toEqual([4, 1024, 512]);
  });

  it('makes the same bytes for a seed, whatever the ranges read', async () => {
    const [a, b] = [1001, 70001]; // odd offsets: ranges that split a BF16 element
    const whole = await bytesOf(7, GATE_UP, a, b);
    expect(await bytesOf(7, GATE_UP, a, b, [1, 4097, 30000])).toEqual(whole);
    expect((await bytesOf(7, GATE_UP, a - 1, b + 3)).subarray(1, -3)).toEqual(whole); // whole words, written straight into the pieces
    expect(await bytesOf(8, GATE_UP, a, b)).not.toEqual(whole);
    // weights: zero mean, standard deviation 1/√fan_in (fan_in 1024); norms: 1
    const values = decodeToF32(await bytesOf(7, GATE_UP, 0, 1 << 20), 'BF16', 'test');
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    const std = Math.sqrt(values.reduce((s, v) => s + v * v, 0) / values.length);
    expect(Math.abs(mean)).toBeLessThan(1e-3);
    expect(std).toBeCloseTo(1 / 32, 3);
    expect([...decodeToF32(await bytesOf(7, 'model.norm.weight', 0, 2048), 'BF16', 'test')].every((v) => v === 1)).toBe(true);
  });

  it('makes F16 or BF16: the same weights of a seed, rounded two ways', async () => {
    const read = async (dtype: 'F16' | 'BF16') => {
      const source = syntheticGraniteSource({ seed: 7, dtype, scale: { layers: 2 } });
      const t = (await openCheckpoint(source)).tensors.get(GATE_UP)!;
      expect(t).toMatchObject({ dtype, shape: [32, 1024, 1024] });
      return decodeToF32(await readRange((await source.open(t.file))!, t.begin + 2 * 12345, t.begin + 2 * 60000), dtype, 'test');
    };
    const [h, b] = [await read('F16'), await read('BF16')];
    expect(h.some((v, i) => v !== b[i])).toBe(true);
    for (let i = 0; i < h.length; i++) expect(Math.abs(h[i] - b[i]), `element ${i}`).toBeLessThanOrEqual(2 ** -8 * Math.abs(h[i]) + 2 ** -24);
  });

  it('counts the weight bytes a decode token reads', () => {
    const { config: c } = readConfig({
      ...GRANITE_3_1_1B_A400M,
      hidden_size: 64,
      intermediate_size: 32,
      num_local_experts: 4,
      num_experts_per_tok: 2,
      num_hidden_layers: 3,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      vocab_size: 100,
    });
    // per layer: qkv (4+2+2)·16 = 128 rows × 64, o 64 rows × 64, norms 2·64 f32, router 4·64 f32,
    // 2 experts × (gate/up 2·32 rows × 64 + down 64 rows × 32); then final norm 64 f32, lm_head 100 rows + 1 embedding row × 64
    const perLayer = (attention: number, expert: number) => (128 + 64) * attention + 2 * 64 * 4 + 4 * 64 * 4 + 2 * expert;
    expect(activeBytesPerToken(c, 'f32')).toBe(3 * perLayer(64 * 4, (64 * 64 + 64 * 32) * 4) + 64 * 4 + 101 * 64 * 4);
    expect(activeBytesPerToken(c, 'f16')).toBe(3 * perLayer(64 * 2, (64 * 64 + 64 * 32) * 2) + 64 * 4 + 101 * 64 * 2);
    // q4 rows of 64: 2 groups × 4 words + 1 scale word = 36 bytes; of 32: 1 × 4 + 1 = 20 bytes; attention stays f16
    expect(activeBytesPerToken(c, 'q4')).toBe(3 * perLayer(64 * 2, 64 * 36 + 64 * 20) + 64 * 4 + 101 * 64 * 2);
    // the full model at q4: 24 layers × (6 MiB attention + 128 KiB router + 8 × 884736 experts + 8 KiB norms) + 49156 × 2 KiB
    const full = readConfig(GRANITE_3_1_1B_A400M as Record<string, unknown>).config;
    expect(activeBytesPerToken(full, 'q4')).toBe(24 * (6 * 2 ** 20 + 2 ** 17 + 8 * 884736 + 2 ** 13) + 1024 * 4 + 49156 * 2048);
  });

  describe('on the GPU', () => {
    let device: GPUDevice;
    beforeAll(async () => {
      device = await testDevice();
    });
    afterAll(() => device.destroy());

    it('loads a 2-layer model as q4, generates with finite logits and is benchmarked against the floor', async () => {
      let config: ModelConfig | undefined;
      const r = await benchModel(async () => {
        const engine = await Engine.load(device, syntheticGraniteSource({ scale: { layers: 2, vocab: 4096, experts: 16 } }), { dtype: 'q4',
          contextLength: 128 });
        expect(engine.model).toBe('synthetic granite-3.1-1b-a400m (2 layers, vocab 4096, 16 experts)');
        const logits = await engine.logits([1, 500, 4095]);
        for (const row of logits) {
          expect(row.length).toBe(4096);
          expect(row.every(Number.isFinite)).toBe(true);
          expect(Math.max(...row) - Math.min(...row)).toBeGreaterThan(0);
        }
        config = engine.config;
        return engine;
      }, { dtype: 'q4', promptTokens: 8, maxTokens: 4, bandwidthBytesPerSecond: 1e9 });
      expect(r).toMatchObject({ model: 'synthetic granite-3.1-1b-a400m (2 layers, vocab 4096, 16 experts)', promptTokens: 8, generatedTokens: 4,
        activeBytesPerToken: activeBytesPerToken(config!, 'q4') });
      expect(r.loadSeconds).toBeGreaterThan(0);
      expect(r.floorTokensPerSecond).toBeCloseTo(1e9 / r.activeBytesPerToken, 6);
      expect(r.decodeOverFloor).toBeCloseTo(r.decodeTokensPerSecond / r.floorTokensPerSecond!, 9);
      expect(r.decodeTokensPerSecond).toBeGreaterThan(0);
      // Where a decode step's time goes, GPU and CPU sampling; the 4th turn of a chat with and without reuse.
      for (const p of [r.decodeProfile!, r.cpuSampling!.decodeProfile!]) {
        expect(p.steps).toBe(3);
        expect(p.gpuMs).toBeGreaterThan(0);
        expect(p.readbackMs).toBeGreaterThanOrEqual(0);
        expect(Number.isFinite(p.cpuMs)).toBe(true);
      }
      expect(r.cpuSampling!.decodeOverFloor).toBeCloseTo(r.cpuSampling!.decodeTokensPerSecond / r.floorTokensPerSecond!, 9);
      // turns of 8, 32, 56 and 80 tokens: the cache holds the third prompt and 7 of its 8 reply tokens
      expect(r.reuse).toMatchObject({ turns: 4, promptTokens: 80, cachedTokens: 63 });
      expect(r.reuse!.timeToFirstTokenMs).toBeGreaterThan(0);
      expect(r.reuse!.timeToFirstTokenNoReuseMs).toBeGreaterThan(0);
      // Every decode step records the same launches: a whole number, and that over the 2 layers.
      expect(Number.isInteger(r.dispatchesPerDecodeStep)).toBe(true);
      expect(r.dispatchesPerDecodeStep).toBeGreaterThan(2);
      expect(r.dispatchesPerDecodeStepPerLayer).toBe(r.dispatchesPerDecodeStep! / 2);
    });

    it('measures the copy bandwidth on data it checks', async () => {
      const r = await copyRecord(device, 1 << 20, 1);
      expect(r).toMatchObject({ name: 'copy', shape: '1 MiB', gflops: null, error: 0 });
      expect(r.gbps).toBeCloseTo(2 ** 21 / r.ms / 1e6, 9);
      expect(copyBandwidth([r])).toBe(r.gbps! * 1e9);
    });

    it('runs a model through the expert cache end to end, with the floor of its decode', async () => {
      const source = syntheticGraniteSource({ dtype: 'F16', scale: { layers: 2, vocab: 4096, experts: 16 } });
      const expert = swigluExpertBytes(1024, 512, 'q4');
      const r = await benchCachedModel(device, source, { dtype: 'q4', expertCacheBytes: 12 * expert, hostCacheBytes: 4 * expert, promptTokens: 3, maxTokens: 3,
        bandwidthBytesPerSecond: 1e9 });
      const c = readConfig(source.config).config;
      expect(r).toMatchObject({ model: source.name, slots: 12, promptTokens: 3, generatedTokens: 3, activeBytesPerToken: activeBytesPerToken(c, 'q4'),
        activeExpertBytesPerToken: 2 * 8 * expert });
      expect(r.loadSeconds).toBeGreaterThan(0);
      expect(r.hitRate).toBeGreaterThanOrEqual(0);
      expect(r.hitRate).toBeLessThan(1); // 16 experts a layer in 12 slots: some are read again
      expect(r.bytesPerToken).toBeGreaterThan(0);
      expect(r.floorTokensPerSecond).toBeCloseTo(1e9 / r.activeBytesPerToken, 6);
      expect(r.decodeOverFloor).toBeCloseTo(r.decodeTokensPerSecond / r.floorTokensPerSecond!, 9);
    });
  });

  it('takes the bandwidth from the copy record', () => {
    const rec = { name: 'copy', shape: '16 MiB', ms: 1, gflops: null, gbps: 12.5, error: 0 };
    expect(copyBandwidth([rec])).toBe(12.5e9);
    expect(copyBandwidth([])).toBeUndefined();
  });
});
