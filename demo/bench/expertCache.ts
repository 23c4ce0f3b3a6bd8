// The benchmark page's expert-cache budget curve: the bundled model through the expert cache at the
// budgets of `webmoe bench --expert-cache` (the same code: src/bench/expertCache.ts), LRU with
// prefetch off and on, decoding the committed held-out text; its table and chart.
import heldout from '../../bench/austen-heldout.txt?raw';
import { benchExpertCacheOnText, EXPERT_CACHE_TOKENS, type ExpertCacheBench, type ExpertCacheBenchRow } from '../../src/bench/expertCache.js';
import { modelUrlSource } from '../../src/io/cacheSource.js';
import type { WeightDType } from '../../src/weights/format.js';
import { lineChart } from './lineChart.js';
import { fill } from './results.js';

/** The quick preset's tokens and warm-up: a few seconds a budget on a software adapter. */
const QUICK = { tokens: 12, warmup: 4 };

export function measureExpertCache(device: GPUDevice, model: string,
  o: { dtype: WeightDType; quick: boolean; onRow: (r: ExpertCacheBenchRow) => void }): Promise<ExpertCacheBench>
{
  return benchExpertCacheOnText(device, modelUrlSource(model), heldout, {
    dtype: o.dtype,
    policies: ['lru'],
    ...(o.quick ? QUICK : { tokens: EXPERT_CACHE_TOKENS }),
    onRow: o.onRow,
  });
}

const percent = (v: number) => `${(100 * v).toFixed(1)}%`;
const seriesName = (r: ExpertCacheBenchRow) => `${r.policy.toUpperCase()}${r.prefetch ? ' + prefetch' : ''}`;

/** A report's curve as a table, and its chart after the other charts in `charts`; an older report without one: none. */
export function showExpertCache(table: HTMLTableElement, charts: HTMLElement, bench: ExpertCacheBench | undefined): void {
  if (!bench) {
    table.replaceChildren();
    return;
  }
  renderExpertCache(table, bench.rows);
  charts.append(expertCacheChart(bench));
}

export function renderExpertCache(table: HTMLTableElement, rows: ExpertCacheBenchRow[]): void {
  fill(table, ['experts a layer', 'policy', 'prefetch', 'hit rate', 'MiB uploaded / token', 'decode tok/s', '× all resident', 'prefetch precision / recall'],
    rows.map((r) => [
      `${r.perLayer} of ${r.experts}`,
      r.policy.toUpperCase(),
      r.prefetch ? 'on' : 'off',
      percent(r.hitRate),
      (r.bytesPerToken / 2 ** 20).toFixed(2),
      r.decodeTokensPerSecond.toFixed(1),
      r.overFused.toFixed(2),
      r.prefetch ? `${r.precision.toFixed(2)} / ${r.recall.toFixed(2)}` : '',
    ]));
}

/** Hit rate and decode tok/s against the budget, a line per policy and prefetch setting; all resident (the fused path) dashed. */
function expertCacheChart(bench: ExpertCacheBench): SVGSVGElement {
  const budgets = [...new Set(bench.rows.map((r) => r.perLayer))].sort((a, b) => a - b);
  const names = [...new Set(bench.rows.map(seriesName))];
  const series = (value: (r: ExpertCacheBenchRow) => number) =>
    names.map((name, i) => ({
      name,
      alt: i % 2 === 1,
      values: budgets.map((b) => {
        const r = bench.rows.find((r) => r.perLayer === b && seriesName(r) === name);
        return r ? value(r) : NaN;
      }),
    }));
  const tps = (v: number) => `${+v.toPrecision(3)}`;
  return lineChart(`Expert cache on ${bench.model.split('/').filter(Boolean).pop()}: hit rate and decode tok/s against the budget (higher is better)`,
    'experts a layer on the GPU', budgets.map((b) => `${b}/${bench.rows[0].experts}`), [
    { title: 'hit rate', series: series((r) => r.hitRate), max: 1, format: (v) => `${Math.round(100 * v)}%` },
    { title: 'decode tok/s', series: series((r) => r.decodeTokensPerSecond), format: tps,
      reference: { value: bench.fusedTokensPerSecond, label: `all resident, no cache: ${tps(bench.fusedTokensPerSecond)} tok/s` } },
  ]);
}
