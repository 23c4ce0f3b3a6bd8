// Generations decoded together against the same requests run one after another, on one engine: for
// each number of concurrent streams, the total decode tokens/s, each stream's latency (start to last
// chunk), the mean sequences a forward carried, the routed expert weight bytes the forwards read per
// token (falling as the batch grows: an expert's weights are read once a forward for all its tokens),
// and whether every stream gave the tokens it gives alone (greedy).
import type { Engine, GenerationStats, Prompt } from '../api/engine.js';
import { quantile } from '../gpu/timing.js';

export interface BatchingRun {
  /** generated tokens over the wall time from the first start to the last end */
  tokensPerSecond: number;
  /** per-stream latency, ms: start to last chunk */
  latencyMs: { p50: number; max: number };
  /** sequences' parts per forward (1 one after another) */
  meanBatch: number;
  /** routed expert weight bytes the forwards read per token routed (RoutingStats.expertBytesReadPerToken) */
  expertBytesReadPerToken: number;
}

export interface BatchingRow {
  streams: number;
  generatedTokens: number;
  sequential: BatchingRun;
  together: BatchingRun;
  /** together.tokensPerSecond / sequential.tokensPerSecond */
  speedup: number;
  /** every stream gave the same tokens both ways */
  identical: boolean;
}

export interface BatchingOptions {
  /** concurrent streams of each row; each at most the engine's maxSequences */
  streams: number[];
  /** tokens each stream generates (greedy, the EOS biased out) */
  maxTokens: number;
  onRow?: (r: BatchingRow) => void;
}

interface Done {
  tokens: number[];
  ms: number;
  stats: GenerationStats;
}

/** The rows of `o.streams`, stream i of a row prompted with prompts[i mod length]; a warm-up runs first. */
export async function benchBatching(engine: Engine, prompts: Prompt[], o: BatchingOptions): Promise<BatchingRow[]> {
  const most = Math.max(...o.streams);
  if (most > engine.maxSequences) throw new RangeError(`webmoe: ${most} streams need an engine of maxSequences ≥ ${most}, got ${engine.maxSequences}`);
  // Every stream generates maxTokens: the end-of-sequence ids are biased out (each row then measures
  // the same work both ways).
  const logitBias = Object.fromEntries(engine.config.eosTokenIds.map((id) => [id, -100]));
  const one = async (p: Prompt, t0: number): Promise<Done> => {
    const tokens: number[] = [];
    let stats: GenerationStats | undefined;
    for await (const c of engine.generate(p, { maxTokens: o.maxTokens, reuseCache: false, logitBias })) {
      tokens.push(...c.tokens);
      stats = c.stats ?? stats;
    }
    return { tokens, ms: performance.now() - t0, stats: stats! };
  };
  const measure = async (n: number, together: boolean): Promise<{ done: Done[]; run: BatchingRun }> => {
    const before = engine.batchTotals;
    const t0 = performance.now();
    const done: Done[] = [];
    const ps = Array.from({ length: n }, (_, i) => prompts[i % prompts.length]);
    if (together) done.push(...await Promise.all(ps.map((p) => one(p, t0))));
    else for (const p of ps) done.push(await one(p, performance.now()));
    const wall = performance.now() - t0;
    const after = engine.batchTotals;
    const latencies = done.map((d) => d.ms);
    // Together, the call that ended last counted the whole batch's routing (their totals are shared).
    const routing = together ? done.reduce((a, d) => (d.ms > a.ms ? d : a)).stats.routing : undefined;
    const bytes = routing?.expertBytesReadPerToken ?? mean(done.map((d) => d.stats.routing?.expertBytesReadPerToken ?? 0));
    return {
      done,
      run: {
        tokensPerSecond: (done.reduce((a, d) => a + d.tokens.length, 0) / wall) * 1000,
        latencyMs: { p50: quantile(latencies, 0.5), max: Math.max(...latencies) },
        meanBatch: (after.parts - before.parts) / (after.forwards - before.forwards),
        expertBytesReadPerToken: bytes,
      },
    };
  };
  // Compiles the pipelines and makes the plans of every batch first.
  for (const n of o.streams) await measure(n, true);
  const rows: BatchingRow[] = [];
  for (const n of o.streams) {
    const seq = await measure(n, false);
    const tog = await measure(n, true);
    const row = {
      streams: n,
      generatedTokens: tog.done.reduce((a, d) => a + d.tokens.length, 0),
      sequential: seq.run,
      together: tog.run,
      speedup: tog.run.tokensPerSecond / seq.run.tokensPerSecond,
      identical: tog.done.every((d, i) => d.tokens.join() === seq.done[i].tokens.join()),
    };
    o.onRow?.(row);
    rows.push(row);
  }
  return rows;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
