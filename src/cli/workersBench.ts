// `webmoe bench-workers`: one row per configuration — the fused single-device path, N GPU shard
// workers, and N GPU workers + a CPU worker holding half the experts — with prefill and decode
// tokens/s and, for the expert-parallel rows, where a MoE layer's time goes (readback of routing and
// rows, batching/combining on the coordinator, the workers' compute, messages and copies).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import type { Engine, GenerationStats, LoadModelOptions } from '../api/engine.js';
import type { ExpertParallelStats } from '../moe/sharded/coordinator.js';
import { dtypeArg, intArg } from './args.js';
import { swigluExpertBytes } from '../weights/matrix.js';
import { openCheckpoint } from '../io/checkpoint.js';
import { readConfig } from '../model/families/registry.js';
import { loadEngine, sourceOf } from './model.js';

interface Phase {
  tokensPerSecond: number;
  /** ms per forward step (prefill: the prompt's one forward; decode: per token) */
  stepMs: number;
  /** per forward step, summed over the MoE layers (expert-parallel rows only) */
  readbackMs?: number;
  hostMs?: number;
  expertMs?: number;
  transferMs?: number;
  /** bytes sent to and received from the workers per forward step */
  bytesPerStep?: number;
}

export interface WorkersBenchRow {
  config: string;
  workers: string[];
  prefill: Phase;
  decode: Phase;
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

function phase(tokensPerSecond: number, steps: number, s?: ExpertParallelStats): Phase {
  const per = (v: number) => v / steps;
  return {
    tokensPerSecond,
    stepMs: 0,
    ...(s && {
      readbackMs: per(s.readbackMs),
      hostMs: per(s.hostMs),
      expertMs: per(s.expertMs),
      transferMs: per(s.transferMs),
      bytesPerStep: per(s.bytesToWorkers + s.bytesFromWorkers),
    }),
  };
}

const minus = (a: ExpertParallelStats, b: ExpertParallelStats): ExpertParallelStats => ({
  layerCalls: a.layerCalls - b.layerCalls,
  readbackMs: a.readbackMs - b.readbackMs,
  hostMs: a.hostMs - b.hostMs,
  roundTripMs: a.roundTripMs - b.roundTripMs,
  expertMs: a.expertMs - b.expertMs,
  transferMs: a.transferMs - b.transferMs,
  bytesToWorkers: a.bytesToWorkers - b.bytesToWorkers,
  bytesFromWorkers: a.bytesFromWorkers - b.bytesFromWorkers,
  rowsPerWorker: a.rowsPerWorker.map((n, i) => n - b.rowsPerWorker[i]),
});

/** One generation: prefill stats at the first chunk, decode stats over the rest. */
async function measure(engine: Engine, prompt: number[], decode: number): Promise<{ prefill: Phase; decode: Phase }> {
  engine.experts?.resetStats();
  let atFirst: ExpertParallelStats | undefined;
  let last: GenerationStats | undefined;
  for await (const c of engine.generate({ tokens: prompt }, { maxTokens: decode + 1 })) {
    atFirst ??= engine.experts?.stats();
    if (c.stats) last = c.stats;
  }
  const end = engine.experts?.stats();
  const prefill = phase(last!.prefillTokensPerSecond, 1, atFirst);
  prefill.stepMs = (prompt.length / last!.prefillTokensPerSecond) * 1000;
  const steps = last!.completionTokens - 1;
  const dec = phase(last!.decodeTokensPerSecond, steps, end && atFirst && minus(end, atFirst));
  dec.stepMs = 1000 / last!.decodeTokensPerSecond;
  return { prefill, decode: dec };
}

export async function benchWorkers(args: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args,
    strict: true,
    options: {
      model: { type: 'string' },
      dtype: { type: 'string', default: 'f32' },
      workers: { type: 'string', default: '2' },
      'prompt-tokens': { type: 'string', default: '64' },
      'decode-tokens': { type: 'string', default: '16' },
      runs: { type: 'string', default: '3' },
      out: { type: 'string', default: 'bench-results/workers.json' },
    },
  });
  const N = intArg(v.workers, 'workers');
  const P = intArg(v['prompt-tokens'], 'prompt-tokens');
  const D = intArg(v['decode-tokens'], 'decode-tokens');
  const runs = intArg(v.runs, 'runs');
  const rows: WorkersBenchRow[] = [];
  const configs: [string, (e: number, bytes: number) => Partial<LoadModelOptions>][] = [
    ['1 device, fused', () => ({})],
    [`${N} GPU workers`, () => ({ workers: N })],
    [`${N} GPU workers + 1 CPU worker (half the experts)`, (E, bytes) => ({ workers: N, gpuExpertBudgetBytes: bytes * Math.floor(E / 2) })],
  ];
  console.log(`webmoe bench-workers: prompt ${P} tokens, ${D} decoded, median of ${runs} runs, ${v.dtype} weights`);
  const { config: c } = readConfig((await openCheckpoint(sourceOf(v.model))).config);
  // The bytes of one expert in all MoE layers, to put half of the experts past the GPU budget.
  const dtype = dtypeArg(v.dtype);
  const perExpert = c.sparse.filter(Boolean).length * swigluExpertBytes(c.hidden, c.moeIntermediate, dtype);
  for (const [name, options] of configs) {
    const engine = await loadEngine(v.model, v.dtype, options(c.experts, perExpert));
    try {
      const prompt = Array.from({ length: P }, (_, i) => (i * 7919 + 13) % c.vocab);
      await measure(engine, prompt.slice(0, 8), 2); // warm-up: pipelines and plans
      const results: { prefill: Phase; decode: Phase }[] = [];
      for (let r = 0; r < runs; r++) results.push(await measure(engine, prompt, D));
      const pick = (key: 'prefill' | 'decode') => {
        const m = median(results.map((x) => x[key].tokensPerSecond));
        return results.find((x) => x[key].tokensPerSecond === m)![key];
      };
      const row: WorkersBenchRow = { config: name, workers: engine.experts?.placement.kinds ?? [], prefill: pick('prefill'), decode: pick('decode') };
      rows.push(row);
      const split = (p: Phase) => (p.expertMs === undefined ?
        '' :
        ` [per step: readback ${p.readbackMs!.toFixed(1)} ms, host ${p.hostMs!.toFixed(1)}, experts ${p.expertMs.toFixed(1)}, transfer ${
          p.transferMs!.toFixed(1)
        } ms]`);
      console.log(`${name.padEnd(44)} prefill ${row.prefill.tokensPerSecond.toFixed(1).padStart(7)} tok/s${split(row.prefill)}`);
      console.log(`${''.padEnd(44)} decode  ${row.decode.tokensPerSecond.toFixed(1).padStart(7)} tok/s${split(row.decode)}`);
    } finally {
      engine.dispose();
    }
  }
  mkdirSync(dirname(v.out!), { recursive: true });
  writeFileSync(v.out!,
    JSON.stringify({ date: new Date().toISOString(), model: v.model ?? 'bundled', dtype: v.dtype, promptTokens: P, decodeTokens: D, runs, rows }, null, 2));
  console.log(`wrote ${v.out}`);
}
