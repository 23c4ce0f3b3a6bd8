// The expert cache on a model's real routing: a text decoded token by token, teacher-forced (each
// step's token is the text's next, in windows of `window` positions), through the fused path (every
// expert resident) and through the cache at budgets of b experts per MoE layer, each policy, prefetch
// off and on, and each cache-aware routing margin: hit rate, bytes uploaded per token, decode tok/s and
// its ratio to the fused path's, prefetch precision and recall, and the teacher-forced perplexity (a
// margin changes the routing, so the logits). The first `warmup` tokens of each run (pipelines
// compile, the cache fills) are left out of the figures.
import { Engine, type GenerationStats } from '../api/engine.js';
import { type Checkpoint, openCheckpoint } from '../io/checkpoint.js';
import type { ModelSource } from '../io/source.js';
import { moeConfigOf, sparseLayers } from '../model/config.js';
import type { Decoder } from '../model/decoder.js';
import { readConfig } from '../model/families/registry.js';
import { loadDecoder } from '../model/load.js';
import { logprobs } from '../model/logprobs.js';
import { TextTokenizer } from '../model/tokenizer.js';
import { CachedExperts } from '../moe/cached/experts.js';
import type { ExpertCachePolicy } from '../moe/cached/policy.js';
import type { WeightDType } from '../weights/format.js';
import { swigluExpertBytes } from '../weights/matrix.js';
import { activeBytesPerToken } from './model.js';

export interface ExpertCacheBenchRow {
  /** GPU slots, as experts per MoE layer (of `experts`), and as slots */
  perLayer: number;
  experts: number;
  slots: number;
  policy: ExpertCachePolicy;
  prefetch: boolean;
  /** cacheAwareMargin (0: the model's own routing) */
  margin: number;
  hitRate: number;
  bytesPerToken: number;
  decodeTokensPerSecond: number;
  /** decodeTokensPerSecond / the fused path's */
  overFused: number;
  precision: number;
  recall: number;
  /** exp(mean NLL) of the text's next token from each timed step's logits (within a window) */
  perplexity: number;
}

export interface ExpertCacheBench {
  model: string;
  dtype: WeightDType;
  /** tokens timed per run (after the warm-up) */
  tokens: number;
  fusedTokensPerSecond: number;
  /** the fused path's perplexity: the model's own */
  fusedPerplexity: number;
  rows: ExpertCacheBenchRow[];
}

/** Tokens of the text `webmoe bench --expert-cache` decodes by default (the benchmark page's full preset too). */
export const EXPERT_CACHE_TOKENS = 400;

export interface ExpertCacheBenchOptions {
  dtype: WeightDType;
  /** experts per MoE layer the budgets hold */
  budgets: number[];
  policies: ExpertCachePolicy[];
  /** cacheAwareMargin of the rows, each a row per budget, policy and prefetch setting. Default [0] (off). */
  margins?: number[];
  /** Positions a window of the text runs over before the next starts at 0. Default 128. */
  window?: number;
  /** Tokens decoded before the timing starts. Default 16. */
  warmup?: number;
  hostCacheBytes?: number;
  /** Experts a token the prefetch predicts in the prefetch rows. Default the model's topK. */
  prefetchTopK?: number;
  onRow?: (r: ExpertCacheBenchRow) => void;
}

/**
 * Tokens per second of teacher-forced decoding of `tokens` (after `warmup` of them), with a hook at the
 * mark, and the perplexity of the text's next tokens after it: each step's logits row scores the next
 * token when it continues the window (a log-softmax on the host: the row is read back anyway).
 */
async function decode(d: Decoder, tokens: number[], window: number, warmup: number,
  onMark: () => void): Promise<{ tokensPerSecond: number; perplexity: number }>
{
  let t0 = 0;
  let nll = 0;
  let scored = 0;
  for (let i = 0; i < tokens.length; i++) {
    if (i === warmup) {
      onMark();
      t0 = performance.now();
    }
    const row = await d.forward([tokens[i]], i % window, 'last');
    if (i >= warmup && i + 1 < tokens.length && (i + 1) % window !== 0) {
      nll -= logprobs(row, tokens[i + 1], 0).logprob;
      scored++;
    }
  }
  return { tokensPerSecond: ((tokens.length - warmup) / (performance.now() - t0)) * 1000, perplexity: Math.exp(nll / scored) };
}

export async function benchExpertCache(device: GPUDevice, ckpt: Checkpoint, tokens: number[], o: ExpertCacheBenchOptions): Promise<ExpertCacheBench> {
  const { family, config } = readConfig(ckpt.config);
  const window = o.window ?? 128;
  const warmup = o.warmup ?? 16;
  const load = { dtype: o.dtype, contextLength: window };
  const fused = await loadDecoder(device, ckpt, family, config, load);
  const { tokensPerSecond: fusedTokensPerSecond, perplexity: fusedPerplexity } = await decode(fused, tokens, window, warmup, () => {});
  fused.destroy();
  const sparse = sparseLayers(config);
  const dtype = config.expertStorage ?? o.dtype;
  const rows: ExpertCacheBenchRow[] = [];
  for (const margin of o.margins ?? [0]) {
    for (const perLayer of o.budgets) {
      for (const policy of o.policies) {
        for (const prefetch of [false, true]) {
          const cache = CachedExperts.create(device, moeConfigOf(config), sparse, dtype, {
            expertCacheBytes: perLayer * sparse.length * swigluExpertBytes(config.hidden, config.moeIntermediate, dtype),
            hostCacheBytes: o.hostCacheBytes,
            expertCachePolicy: policy,
            prefetch,
            prefetchTopK: prefetch ? o.prefetchTopK : undefined,
            cacheAwareMargin: margin,
          });
          try {
            const decoder = await loadDecoder(device, ckpt, family, config, { ...load, experts: cache });
            await cache.tune();
            let mark = cache.countsNow();
            const run = await decode(decoder, tokens, window, warmup, () => (mark = cache.countsNow()));
            decoder.destroy();
            const s = cache.stats(mark);
            const row: ExpertCacheBenchRow = {
              perLayer,
              experts: config.experts,
              slots: cache.slots,
              policy,
              prefetch,
              margin,
              hitRate: s.hitRate,
              bytesPerToken: s.bytesPerToken,
              decodeTokensPerSecond: run.tokensPerSecond,
              overFused: run.tokensPerSecond / fusedTokensPerSecond,
              precision: s.prefetch.precision,
              recall: s.prefetch.recall,
              perplexity: run.perplexity,
            };
            rows.push(row);
            o.onRow?.(row);
          } finally {
            cache.dispose();
          }
        }
      }
    }
  }
  return { model: ckpt.source.name, dtype: o.dtype, tokens: tokens.length - warmup, fusedTokensPerSecond, fusedPerplexity, rows };
}

/**
 * The budgets the bench measures, in experts per MoE layer of `experts`: 2, 4 and 6 (those below it)
 * and all of them (every expert resident, through the cache: what its readback per layer costs).
 */
export const expertCacheBudgets = (experts: number): number[] => [...[2, 4, 6].filter((b) => b < experts), experts];

/**
 * benchExpertCache on a model source with a tokenizer (`webmoe bench --expert-cache`, the benchmark
 * page): the first `tokens` tokens of `text`, at expertCacheBudgets of the model's experts.
 */
export async function benchExpertCacheOnText(device: GPUDevice, source: ModelSource, text: string,
  o: Omit<ExpertCacheBenchOptions, 'budgets'> & { tokens: number }): Promise<ExpertCacheBench>
{
  const json = await source.text('tokenizer.json');
  if (json === undefined) throw new Error(`${source.name} has no tokenizer.json: the expert-cache bench decodes a text`);
  const config = await source.text('tokenizer_config.json');
  const tokens = TextTokenizer.fromJSON(JSON.parse(json) as object, JSON.parse(config ?? '{}') as object).encode(text).slice(0, o.tokens);
  const ckpt = await openCheckpoint(source);
  return benchExpertCache(device, ckpt, tokens, { ...o, budgets: expertCacheBudgets(readConfig(ckpt.config).config.experts) });
}

export interface CachedModelRecord {
  model: string;
  dtype: WeightDType;
  expertCacheBytes: number;
  hostCacheBytes: number;
  slots: number;
  loadSeconds: number;
  promptTokens: number;
  generatedTokens: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  hitRate: number;
  /** bytes uploaded into GPU slots per token, and the expert bytes a token's routing reads */
  bytesPerToken: number;
  activeExpertBytesPerToken: number;
  /** weight bytes one decode token reads on the GPU (activeBytesPerToken: the routed experts' among them) */
  activeBytesPerToken: number;
  /** bandwidth / activeBytesPerToken, when one was given: the decode rate were every expert resident and reads the only cost */
  floorTokensPerSecond?: number;
  decodeOverFloor?: number;
}

/**
 * A model (a synthetic one: no tokenizer) through the expert cache end to end: the load, one
 * generation from random token ids; its speed and the cache's figures over the generation.
 */
export async function benchCachedModel(device: GPUDevice, source: ModelSource,
  o: { dtype: WeightDType; expertCacheBytes: number; hostCacheBytes: number; promptTokens: number; maxTokens: number;
    bandwidthBytesPerSecond?: number }): Promise<CachedModelRecord>
{
  const t0 = performance.now();
  const engine = await Engine.load(device, source, { dtype: o.dtype, expertCacheBytes: o.expertCacheBytes, hostCacheBytes: o.hostCacheBytes,
    contextLength: 256 });
  const loadSeconds = (performance.now() - t0) / 1000;
  try {
    const c = engine.config;
    const prompt = Array.from({ length: o.promptTokens }, (_, i) => (i * 7919 + 13) % c.vocab);
    let stats: GenerationStats | undefined;
    for await (const chunk of engine.generate({ tokens: prompt }, { maxTokens: o.maxTokens, temperature: 0 })) stats = chunk.stats ?? stats;
    const s = stats!;
    const cache = s.expertCache!;
    const active = activeBytesPerToken(c, o.dtype);
    const floor = o.bandwidthBytesPerSecond && o.bandwidthBytesPerSecond / active;
    return {
      model: source.name,
      dtype: o.dtype,
      expertCacheBytes: o.expertCacheBytes,
      hostCacheBytes: o.hostCacheBytes,
      slots: cache.slots,
      loadSeconds,
      promptTokens: s.promptTokens,
      generatedTokens: s.completionTokens,
      prefillTokensPerSecond: s.prefillTokensPerSecond,
      decodeTokensPerSecond: s.decodeTokensPerSecond,
      hitRate: cache.hitRate,
      bytesPerToken: cache.bytesPerToken,
      activeExpertBytesPerToken: c.sparse.filter(Boolean).length * c.topK * cache.expertBytes,
      activeBytesPerToken: active,
      ...(floor && { floorTokensPerSecond: floor, decodeOverFloor: s.decodeTokensPerSecond / floor }),
    };
  } finally {
    engine.dispose();
  }
}
