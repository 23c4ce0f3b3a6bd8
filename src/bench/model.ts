// A whole model's generation speed: prefill and decode tokens/s and time to first token of one greedy
// generation, after a short warm-up (the first call compiles every pipeline); and the weight bytes a
// decode token reads, with the tokens/s that the copy kernel's bandwidth would allow (the floor).
// Beside it: the same generation with the CPU sampler (the logits row read back each token, as before
// GPU sampling), where a decode step's time goes in each, and the time to first token of a chat's
// later turn with and without the KV cache kept from the turns before.
import type { DecodeProfile, Engine, GenerateOptions, GenerationStats } from '../api/engine.js';
import type { ModelConfig } from '../model/config.js';
import { rowBytes, swigluExpertBytes } from '../weights/matrix.js';
import type { BenchRecord } from './cases.js';
import { isQuant, type WeightDType } from '../weights/format.js';

export interface ModelBenchRecord {
  model: string;
  dtype: string;
  promptTokens: number;
  generatedTokens: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  timeToFirstTokenMs: number;
  /** seconds from the start of the load to a ready engine (streaming, quantizing, the tile trial) */
  loadSeconds: number;
  /** weight bytes one decode token reads, at their storage (activeBytesPerToken) */
  activeBytesPerToken: number;
  /** bandwidth (from the same run's copy record) / activeBytesPerToken, when one was given */
  floorTokensPerSecond?: number;
  /** decodeTokensPerSecond / floorTokensPerSecond (1: at the weight-bandwidth floor) */
  decodeOverFloor?: number;
  /** a decode step's time (ms) with GPU sampling, from a second, profiled run */
  decodeProfile?: DecodeProfile;
  /** the same generation sampled on the CPU from the logits row read back each token */
  cpuSampling?: { decodeTokensPerSecond: number; decodeOverFloor?: number; decodeProfile?: DecodeProfile };
  /** a chat of `turns` turns (each adds the reply and TURN_TOKENS tokens): its last turn's time to first token */
  reuse?: { turns: number; promptTokens: number; cachedTokens: number; timeToFirstTokenMs: number; timeToFirstTokenNoReuseMs: number };
}

export interface ModelBenchOptions {
  dtype: string;
  /** Prompt length in tokens. Default 64. */
  promptTokens?: number;
  /** Tokens to generate. Default 32. */
  maxTokens?: number;
  /** Memory bandwidth in bytes/s (copyBandwidth of the run's records), for the floor. */
  bandwidthBytesPerSecond?: number;
  signal?: AbortSignal;
}

/** The copy kernel's bandwidth in bytes/s (bytes read + written, as its GB/s counts them). */
export function copyBandwidth(records: BenchRecord[]): number | undefined {
  const copy = records.find((r) => r.name === 'copy');
  return copy?.gbps ? copy.gbps * 1e9 : undefined;
}

/**
 * Weight bytes one decode token reads at their storage, as the model loader stores them: per layer the
 * attention's projections (f32/f16; f16 under q8/q4: grouped-query attention's fused q/k/v and o, or
 * MLA's q/kv_a, q_b, kv_b and o) and its norms, q/k/v bias and q/k norm (f32), the norms, the router
 * (f32; an [E] selection bias aside) and the topK routed experts (+ the shared expert and its gate,
 * which DeepSeek's lack, or a dense layer's MLP and its one-expert router) at `dtype`; then the final
 * norm, the whole lm_head [V, H] (the tied embedding when tied: the logits GEMV reads every row) and
 * one embedding row. The KV cache and activations are not counted.
 */
export function activeBytesPerToken(c: Readonly<ModelConfig>, dtype: WeightDType): number {
  const dense: WeightDType = isQuant(dtype) ? 'f16' : dtype;
  const { hidden: H } = c;
  let bytes = 0;
  for (let l = 0; l < c.layers; l++) {
    bytes += attentionBytes(c, dense) + 2 * H * 4;
    if (c.sparse[l]) {
      bytes += c.experts * H * 4 + c.topK * swigluExpertBytes(H, c.moeIntermediate, dtype);
      if (c.sharedIntermediate) bytes += (c.mla ? 0 : H * 4) + swigluExpertBytes(H, c.sharedIntermediate, dtype);
    } else {
      bytes += H * 4 + swigluExpertBytes(H, c.denseIntermediate!, dtype);
    }
  }
  return bytes + H * 4 + (c.vocab + 1) * rowBytes(H, dense);
}

/** One layer's attention weights with matrices at `dense`. */
function attentionBytes(c: Readonly<ModelConfig>, dense: WeightDType): number {
  const { hidden: H, heads, kvHeads, headDim: D } = c;
  if (c.mla) {
    const { qLoraRank: qr, kvLoraRank: C, qkNopeHeadDim: nope, qkRopeHeadDim: R, vHeadDim: V } = c.mla;
    const qRows = heads * (nope + R);
    const qB = qr ? qRows * rowBytes(qr, dense) + qr * 4 : 0; // q_b_proj, q_a_layernorm
    return ((qr ?? qRows) + C + R) * rowBytes(H, dense) + qB + heads * (nope + V) * rowBytes(C, dense) + H * rowBytes(heads * V, dense) + C * 4;
  }
  const qkvRows = (heads + 2 * kvHeads) * D;
  let bytes = qkvRows * rowBytes(H, dense) + H * rowBytes(heads * D, dense);
  if (c.qkvBias) bytes += qkvRows * 4;
  if (c.qkNorm === 'head') bytes += 2 * D * 4;
  if (c.qkNorm === 'full') bytes += (heads + kvHeads) * D * 4;
  return bytes;
}

/** The prompt and generation lengths `webmoe bench` and the benchmark page time, quick or full. */
export function modelBenchSize(quick: boolean): { promptTokens: number; maxTokens: number } {
  return quick ? { promptTokens: 32, maxTokens: 8 } : { promptTokens: 128, maxTokens: 32 };
}

const TEXT = 'It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife. ';

/** Loads a model, times its load, prefill and decode, and disposes of it. */
export async function benchModel(load: () => Promise<Engine>, o: ModelBenchOptions): Promise<ModelBenchRecord> {
  const t0 = performance.now();
  const engine = await load();
  const loadSeconds = (performance.now() - t0) / 1000;
  try {
    return { ...await timeGeneration(engine, o), loadSeconds };
  } finally {
    engine.dispose();
  }
}

async function timeGeneration(engine: Engine, o: ModelBenchOptions): Promise<Omit<ModelBenchRecord, 'loadSeconds'>> {
  const want = o.promptTokens ?? 64;
  let ids: number[];
  if (engine.tokenizer) {
    ids = engine.encode(TEXT);
    while (ids.length < want) ids = engine.encode(TEXT.repeat(Math.ceil((want * 2) / ids.length)));
  } else { // no tokenizer (a synthetic model): fixed ids spread over the vocabulary
    ids = Array.from({ length: want }, (_, i) => (i * 7919 + 13) % engine.config.vocab);
  }
  const prompt = { tokens: ids.slice(0, want) };
  const maxTokens = o.maxTokens ?? 32;
  // Every run prefills its whole prompt: the cache of the run before must not make it look fast.
  const run = async (n: number, more: GenerateOptions = {}): Promise<GenerationStats> => {
    let stats: GenerationStats | undefined;
    for await (const chunk of engine.generate(prompt, { maxTokens: n, temperature: 0, signal: o.signal, reuseCache: false, ...more })) {
      stats = chunk.stats ?? stats;
    }
    return stats!;
  };
  await run(2);
  await run(2, { sampling: 'cpu' });
  const s = await run(maxTokens);
  const cpu = await run(maxTokens, { sampling: 'cpu' });
  const profiled = await run(maxTokens, { profile: true });
  const cpuProfiled = await run(maxTokens, { sampling: 'cpu', profile: true });
  const reuse = await timeTurns(engine, prompt.tokens, o.signal);
  const active = activeBytesPerToken(engine.config, o.dtype as WeightDType);
  const floor = o.bandwidthBytesPerSecond && o.bandwidthBytesPerSecond / active;
  return {
    model: engine.model,
    dtype: o.dtype,
    promptTokens: s.promptTokens,
    generatedTokens: s.completionTokens,
    prefillTokensPerSecond: s.prefillTokensPerSecond,
    decodeTokensPerSecond: s.decodeTokensPerSecond,
    timeToFirstTokenMs: s.timeToFirstTokenMs,
    activeBytesPerToken: active,
    ...(floor && { floorTokensPerSecond: floor, decodeOverFloor: s.decodeTokensPerSecond / floor }),
    decodeProfile: profiled.decodeProfile,
    cpuSampling: {
      decodeTokensPerSecond: cpu.decodeTokensPerSecond,
      ...(floor && { decodeOverFloor: cpu.decodeTokensPerSecond / floor }),
      decodeProfile: cpuProfiled.decodeProfile,
    },
    reuse,
  };
}

/** Turns of the chat timeTurns plays, and the new tokens each turn after the first adds. */
const TURNS = 4;
const TURN_TOKENS = 16;

/**
 * A chat of token prompts: each turn the previous prompt, its reply (8 greedy tokens) and TURN_TOKENS
 * more; the last turn's time to first token with the cache of the turns before, then without.
 */
async function timeTurns(engine: Engine, first: number[], signal?: AbortSignal): Promise<ModelBenchRecord['reuse']> {
  const V = engine.config.vocab;
  let prompt = first;
  let last: GenerationStats | undefined;
  const reply = async (more: GenerateOptions) => {
    const tokens: number[] = [];
    for await (const c of engine.generate({ tokens: prompt }, { maxTokens: 8, temperature: 0, signal, ...more })) {
      tokens.push(...c.tokens);
      last = c.stats ?? last;
    }
    return tokens;
  };
  for (let turn = 1; turn <= TURNS; turn++) {
    if (turn > 1) prompt = [...prompt, ...await reply({}), ...Array.from({ length: TURN_TOKENS }, (_, i) => (turn * 7919 + i * 104729) % V)];
    if (prompt.length + 8 > engine.contextLength) return undefined;
  }
  await reply({});
  const reused = last!;
  await reply({ reuseCache: false });
  return {
    turns: TURNS,
    promptTokens: reused.promptTokens,
    cachedTokens: reused.cachedTokens ?? 0,
    timeToFirstTokenMs: reused.timeToFirstTokenMs,
    timeToFirstTokenNoReuseMs: last!.timeToFirstTokenMs,
  };
}
