// `webmoe bench --batching`: generations decoded together against the same requests one after
// another (src/bench/batching.ts), on a model (default the bundled one) or the synthetic granite
// shape: a table, and JSON to --out. Prompts: sentences of the held-out Austen text where the model
// has a tokenizer, else seeded token ids.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Prompt } from '../api/engine.js';
import { loadModel } from '../node.js';
import { type BatchingRow, benchBatching } from '../bench/batching.js';
import { syntheticGraniteSource } from '../bench/synthetic.js';
import type { WeightDType } from '../weights/format.js';
import { UsageError } from './args.js';
import { HELDOUT_TEXT } from './expertCacheBench.js';
import { sourceOf } from './model.js';

export interface BatchingBenchArgs {
  model?: string;
  synthetic?: string;
  dtype: WeightDType;
  streams: number[];
  maxTokens: number;
  out: string;
}

/** Positions each sequence's KV slot holds: the prompts and their tokens fit well within. */
const CONTEXT = 256;

export async function batchingBench(o: BatchingBenchArgs): Promise<void> {
  const maxSequences = Math.max(...o.streams);
  if (o.synthetic !== undefined && o.synthetic !== 'granite') throw new UsageError(`--synthetic with --batching: 'granite', got '${o.synthetic}'`);
  const source = o.synthetic === undefined ? sourceOf(o.model) : syntheticGraniteSource();
  const engine = await loadModel(source, { dtype: o.dtype, contextLength: CONTEXT, maxSequences });
  try {
    const prompts: Prompt[] = engine.tokenizer
      ? readFileSync(HELDOUT_TEXT, 'utf8').split(/(?<=\.)\s+/).filter((s) => s.length > 40).slice(0, maxSequences).map((s) => s.slice(0, 120))
      : Array.from({ length: maxSequences }, (_, i) => ({ tokens: Array.from({ length: 8 }, (_, t) => (i * 977 + t * 131 + 1) % engine.config.vocab) }));
    console.log(`batching on ${engine.model} (${o.dtype}), ${o.maxTokens} tokens a stream, greedy`);
    console.log('streams   one after another: tok/s  p50 ms   MB/token   together: tok/s  p50 ms  max ms  batch  MB/token   speedup  identical');
    const row = (r: BatchingRow) =>
      console.log(
        `${String(r.streams).padStart(7)} ${r.sequential.tokensPerSecond.toFixed(1).padStart(24)} ${r.sequential.latencyMs.p50.toFixed(0).padStart(7)} ` +
          `${(r.sequential.expertBytesReadPerToken / 1e6).toFixed(2).padStart(10)} ${r.together.tokensPerSecond.toFixed(1).padStart(16)} ` +
          `${r.together.latencyMs.p50.toFixed(0).padStart(7)} ${r.together.latencyMs.max.toFixed(0).padStart(7)} ${
            r.together.meanBatch.toFixed(2).padStart(6)
          } ` +
          `${(r.together.expertBytesReadPerToken / 1e6).toFixed(2).padStart(9)} ${r.speedup.toFixed(2).padStart(9)}  ${r.identical}`,
      );
    const rows = await benchBatching(engine, prompts, { streams: o.streams, maxTokens: o.maxTokens, onRow: row });
    mkdirSync(dirname(o.out), { recursive: true });
    writeFileSync(o.out, JSON.stringify({ model: engine.model, dtype: o.dtype, maxTokens: o.maxTokens, rows }, null, 2));
    console.log(`wrote ${o.out}`);
  } finally {
    engine.dispose();
  }
}
