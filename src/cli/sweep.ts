// webmoe sweep: the quality-vs-cost curve of routing. For k = 1 … K and for several top-p values (at
// the model's k, and adaptive up to k = K), the mean experts run per token, the routed experts' FLOPs and weight bytes per
// token, the perplexity of a text, and the measured decode speed; JSON to --out and an SVG chart to
// --svg (sweepChart.ts). docs/routing.md shows it for the bundled model.
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { parseArgs } from 'node:util';
import type { Engine, RoutingOptions } from '../api/engine.js';
import { intArg, UsageError } from './args.js';
import { loadEngine, modelOptions, parallelArgs } from './model.js';
import { textWindows, windowsLoss } from './perplexity.js';
import { sweepChart } from './sweepChart.js';

export interface SweepRow {
  /** 'k': a k override; 'top-p': adaptive k up to the model's k; 'top-p, k ≤ K': adaptive k up to K */
  series: 'k' | 'top-p' | 'top-p, k ≤ K';
  routing: RoutingOptions;
  activePerToken: number;
  expertFlopsPerToken: number;
  expertBytesPerToken: number;
  loss: number;
  perplexity: number;
  decodeTokensPerSecond: number;
}

export interface Sweep {
  /** the model's folder (or URL's last part) */
  model: string;
  text: string;
  dtype: string;
  experts: number;
  topK: number;
  window: number;
  windows: number;
  tokens: number;
  decodeTokens: number;
  rows: SweepRow[];
}

/** Top-p values of the sweep: comma-separated numbers in (0, 1]. */
function topPsArg(v: string): number[] {
  return v.split(',').map((s) => {
    const p = Number(s);
    if (!(p > 0 && p <= 1)) throw new UsageError(`--top-p must be comma-separated numbers in (0, 1], got '${s}' in '${v}'`);
    return p;
  });
}

/** One point: perplexity and routing figures over the windows, then decode speed from the text's first window. */
async function measure(engine: Engine, windows: ReturnType<typeof textWindows>, routing: RoutingOptions, decodeTokens: number) {
  const { loss } = await windowsLoss(engine, windows, routing);
  // The routing figures of the scoring: the last window's (every window has the same length).
  const r = (await engine.routingStats())!;
  // The best of three runs (the first also builds this routing's decode plan): the machine may be shared.
  let decodeTokensPerSecond = 0;
  for (let run = 0; run < 3 && decodeTokens > 1; run++) {
    const prompt = { tokens: windows[0].read.slice(0, 16) };
    for await (const c of engine.generate(prompt, { maxTokens: decodeTokens, routing })) {
      if (c.stats) decodeTokensPerSecond = Math.max(decodeTokensPerSecond, c.stats.decodeTokensPerSecond);
    }
  }
  return {
    activePerToken: r.activePerToken,
    expertFlopsPerToken: r.expertFlopsPerToken,
    expertBytesPerToken: r.expertBytesPerToken,
    loss,
    perplexity: Math.exp(loss),
    decodeTokensPerSecond,
  };
}

export async function sweep(args: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args,
    strict: true,
    options: {
      ...modelOptions,
      text: { type: 'string' },
      window: { type: 'string', default: '256' },
      windows: { type: 'string' },
      'max-k': { type: 'string' },
      'top-p': { type: 'string', default: '0.3,0.4,0.5,0.6,0.7,0.8,0.9' },
      'decode-tokens': { type: 'string', default: '32' },
      out: { type: 'string', default: 'bench-results/sweep.json' },
      svg: { type: 'string', default: 'bench-results/sweep.svg' },
    },
  });
  if (!v.text) throw new Error('--text FILE is required');
  const window = intArg(v.window, 'window');
  const topPs = topPsArg(v['top-p']);
  const decodeTokens = intArg(v['decode-tokens'], 'decode-tokens');
  const engine = await loadEngine(v.model, v.dtype, parallelArgs(v));
  try {
    const { experts: E, topK } = engine.config;
    const maxK = v['max-k'] === undefined ? E : intArg(v['max-k'], 'max-k');
    if (maxK < 1 || maxK > E) throw new UsageError(`--max-k must be in 1…${E} (the model's experts), got ${maxK}`);
    const windows = textWindows(engine, v.text, window, v.windows === undefined ? undefined : intArg(v.windows, 'windows'));
    const rows: SweepRow[] = [];
    const points: [SweepRow['series'], RoutingOptions][] = [
      ...Array.from({ length: maxK }, (_, i) => ['k', { topK: i + 1 }] as [SweepRow['series'], RoutingOptions]),
      ...topPs.map((topP) => ['top-p', { topP }] as [SweepRow['series'], RoutingOptions]),
      ...(maxK > topK ? topPs.map((topP) => ['top-p, k ≤ K', { topP, topK: maxK }] as [SweepRow['series'], RoutingOptions]) : []),
    ];
    for (const [series, routing] of points) {
      const row = { series, routing, ...await measure(engine, windows, routing, decodeTokens) };
      rows.push(row);
      console.error(`${JSON.stringify(routing).padEnd(24)} experts/token ${row.activePerToken.toFixed(3)}  perplexity ${row.perplexity.toFixed(3)}  ` +
        `decode ${row.decodeTokensPerSecond.toFixed(1)} tok/s`);
    }
    const result: Sweep = {
      model: basename(engine.model), // the folder's or file's name: no local path in a committed result
      text: v.text,
      dtype: v.dtype ?? 'f32',
      experts: E,
      topK,
      window,
      windows: windows.length,
      tokens: windows.reduce((a, w) => a + w.targets.length, 0),
      decodeTokens,
      rows,
    };
    for (const [file, text] of [[v.out, `${JSON.stringify(result, null, 2)}\n`], [v.svg, sweepChart(result)]]) {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, text);
    }
    console.log(JSON.stringify(result));
  } finally {
    engine.dispose();
  }
}
