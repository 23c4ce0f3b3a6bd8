// `webmoe bench --expert-cache`: the expert cache's rows (src/bench/expertCache.ts) on a model with a
// tokenizer (default: the bundled one) over a text (default: the committed held-out Austen excerpt,
// bench/austen-heldout.txt): a table, and JSON to --out. With --cache-aware-margins, the rows of each
// margin (LRU: the cache-aware routing figures of docs/expert-cache.md).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { copyRecord } from '../bench/cases.js';
import { benchCachedModel, benchExpertCacheOnText, type ExpertCacheBenchRow } from '../bench/expertCache.js';
import { copyBandwidth } from '../bench/model.js';
import { syntheticGraniteSource } from '../bench/synthetic.js';
import { createNodeDevice } from '../node.js';
import type { WeightDType } from '../weights/format.js';
import { UsageError } from './args.js';
import { sourceOf } from './model.js';

export const HELDOUT_TEXT = 'bench/austen-heldout.txt';

export interface ExpertCacheBenchArgs {
  model?: string;
  text?: string;
  tokens: number;
  dtype: WeightDType;
  out: string;
  quick: boolean;
  synthetic?: string;
  gpuMiB: number;
  hostMiB: number;
  /** experts a token the prefetch rows predict (default the model's topK) */
  prefetchTopK?: number;
  /** cacheAwareMargin of the rows (LRU only when given); default only 0, LRU and LFU */
  margins?: number[];
}

/** --cache-aware-margins: comma-separated router-logit margins, each a finite number ≥ 0. */
export function marginsArg(v: string): number[] {
  return v.split(',').map((s) => {
    const m = Number(s);
    if (s.trim() === '' || !(Number.isFinite(m) && m >= 0)) {
      throw new UsageError(`--cache-aware-margins must be comma-separated numbers ≥ 0, got ${s ? `'${s}'` : 'an empty item'} in '${v}'`);
    }
    return m;
  });
}

export async function expertCacheBench(o: ExpertCacheBenchArgs): Promise<void> {
  if (o.synthetic !== undefined) return syntheticRow(o);
  const source = sourceOf(o.model);
  const text = o.text ?? HELDOUT_TEXT;
  const device = await createNodeDevice();
  console.log(`expert cache on ${source.name} (${o.dtype}), the first ${o.tokens} tokens of ${text} decoded teacher-forced`);
  console.log('margin experts/layer policy prefetch   hit rate   MiB/token   perplexity   decode tok/s   × fused   precision   recall');
  const row = (r: ExpertCacheBenchRow) =>
    console.log(
      `${String(r.margin).padStart(6)} ${`${r.perLayer}/${r.experts}`.padStart(13)} ${r.policy.padStart(6)} ${String(r.prefetch).padStart(8)} ` +
        `${(100 * r.hitRate).toFixed(1).padStart(9)}% ${(r.bytesPerToken / 2 ** 20).toFixed(3).padStart(11)} ${r.perplexity.toFixed(3).padStart(12)} ` +
        `${r.decodeTokensPerSecond.toFixed(1).padStart(14)} ${r.overFused.toFixed(2).padStart(9)} ` +
        `${r.prefetch ? r.precision.toFixed(2).padStart(11) : ''.padStart(11)} ${r.prefetch ? r.recall.toFixed(2).padStart(8) : ''}`,
    );
  const result = await benchExpertCacheOnText(device, source, readFileSync(text, 'utf8'), { dtype: o.dtype, tokens: o.tokens,
    policies: o.margins ? ['lru'] : ['lru', 'lfu'], margins: o.margins, onRow: row, prefetchTopK: o.prefetchTopK });
  console.log(`fused (all experts resident): ${result.fusedTokensPerSecond.toFixed(1)} tok/s, perplexity ${result.fusedPerplexity.toFixed(3)}; ` +
    `${result.tokens} tokens timed`);
  device.destroy();
  mkdirSync(dirname(o.out), { recursive: true });
  writeFileSync(o.out, JSON.stringify({ ...result, text }, null, 2));
  console.log(`wrote ${o.out}`);
}

/** The synthetic Qwen3-30B-A3B-shaped model through the cache, end to end. */
async function syntheticRow(o: ExpertCacheBenchArgs): Promise<void> {
  if (o.synthetic !== 'qwen3-30b-a3b') throw new Error(`--synthetic with --expert-cache: 'qwen3-30b-a3b', got '${o.synthetic}'`);
  // F16, not the real model's BF16: the matrices q4 keeps f16 (attention, embedding, lm_head) then load
  // as they are read, as from an F16 file (docs/expert-cache.md).
  const source = syntheticGraniteSource({ base: 'qwen3-30b-a3b', dtype: 'F16', ...(o.quick && { scale: { layers: 4 } }) });
  console.log(`${source.name}: ${(source.bytes / 2 ** 30).toFixed(1)} GiB of F16, ${o.dtype}, GPU budget ${o.gpuMiB} MiB, host ${o.hostMiB} MiB`);
  const device = await createNodeDevice();
  const copy = await copyRecord(device, 64 << 20, 5);
  const r = await benchCachedModel(device, source, {
    dtype: o.dtype,
    expertCacheBytes: o.gpuMiB * 2 ** 20,
    hostCacheBytes: o.hostMiB * 2 ** 20,
    promptTokens: 4, // few: on a 2-core software adapter a token of 48 layers takes minutes
    maxTokens: 4,
    bandwidthBytesPerSecond: copyBandwidth([copy]),
  });
  device.destroy();
  console.log(`load ${r.loadSeconds.toFixed(1)} s; ${r.slots} GPU slots; prefill ${r.prefillTokensPerSecond.toFixed(2)} tok/s, decode ` +
    `${r.decodeTokensPerSecond.toFixed(2)} tok/s; hit rate ${(100 * r.hitRate).toFixed(1)}%; ${(r.bytesPerToken / 2 ** 20).toFixed(1)} MiB uploaded a token ` +
    `(a token's routed experts: ${(r.activeExpertBytesPerToken / 2 ** 20).toFixed(1)} MiB)`);
  console.log(`floor: ${(r.activeBytesPerToken / 2 ** 20).toFixed(0)} MiB of weights a token at the copy kernel's ${copy.gbps!.toFixed(1)} GB/s: ` +
    `${r.floorTokensPerSecond?.toFixed(2)} tok/s (decode at ${r.decodeOverFloor?.toFixed(3)} of it)`);
  mkdirSync(dirname(o.out), { recursive: true });
  writeFileSync(o.out, JSON.stringify(r, null, 2));
  console.log(`wrote ${o.out}`);
}
