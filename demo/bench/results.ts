// The benchmark report as tables and charts.
import type { BenchRecord } from '../../src/bench/cases.js';
import type { ModelBenchRecord } from '../../src/bench/model.js';
import { type Bar, barChart } from './chart.js';
import { faster, ratioReading } from './ratios.js';

/** A number's digits, or blank where a record lacks it (null in a case, a field older reports lack). */
const fixed = (v: number | null | undefined, digits = 2) => (v == null ? '' : v.toFixed(digits));

export function fill(table: HTMLTableElement, head: string[], rows: string[][]): void {
  table.innerHTML = '';
  const tr = table.createTHead().insertRow();
  for (const h of head) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = h;
    tr.append(th);
  }
  const body = table.createTBody();
  for (const r of rows) {
    const row = body.insertRow();
    for (const cell of r) row.insertCell().textContent = cell;
  }
}

export function renderRecords(table: HTMLTableElement, records: BenchRecord[]): void {
  fill(table, ['case', 'shape', 'ms', 'GFLOP/s', 'GB/s', 'error', 'note'], records.map((r) => [
    r.name,
    r.shape,
    r.ms.toFixed(2),
    fixed(r.gflops),
    fixed(r.gbps),
    r.error.toExponential(1),
    r.note ?? '',
  ]));
}

export function renderRatios(table: HTMLTableElement, ratios: Record<string, number>): void {
  fill(table, ['ratio', 'value', 'reads as'], Object.entries(ratios).map(([k, v]) => [k, v.toFixed(2), ratioReading(k, v)]));
}

export function renderModels(table: HTMLTableElement, models: ModelBenchRecord[]): void {
  fill(table, ['model', 'weights', 'load s', 'prompt tokens', 'generated', 'prefill tok/s', 'decode tok/s', 'first token ms', 'MB of weights / token',
    'decode floor tok/s', 'decode / floor'], models.map((m) => [
      m.model,
      m.dtype,
      fixed(m.loadSeconds, 1),
      String(m.promptTokens),
      String(m.generatedTokens),
      m.prefillTokensPerSecond.toFixed(1),
      m.decodeTokensPerSecond.toFixed(1),
      m.timeToFirstTokenMs.toFixed(0),
      (m.activeBytesPerToken / 1e6).toFixed(1),
      fixed(m.floorTokensPerSecond, 1),
      fixed(m.decodeOverFloor, 3),
    ]));
}

/** The records with each peer row right after webmoe's row of the same shape, so that they compare at a glance. */
function byShape(records: BenchRecord[]): BenchRecord[] {
  const peers = records.filter((r) => r.name.startsWith('peer:'));
  const own = records.filter((r) => !r.name.startsWith('peer:'));
  const placed = own.flatMap((r) => [r, ...peers.filter((p) => p.shape === r.shape)]);
  return [...placed, ...peers.filter((p) => !placed.includes(p))];
}

export function renderCharts(box: HTMLElement, records: BenchRecord[], ratios: Record<string, number>, model?: ModelBenchRecord): void {
  const label = (k: string) => k.split(':')[0];
  const bars = (key: 'gflops' | 'gbps'): Bar[] =>
    byShape(records).flatMap((r) => (r[key] === null ? [] : [{ label: `${r.name} ${r.shape}`, value: r[key]!, peer: r.name.startsWith('peer:') }]));
  const legend = records.some((r) => r.name.startsWith('peer:')) ? '; orange: peers' : '';
  const charts = [
    barChart(`Compute rate, GFLOP/s (higher is better${legend})`, 'GFLOP/s', bars('gflops')),
    barChart(`Bandwidth, GB/s (higher is better${legend})`, 'GB/s', bars('gbps')),
  ];
  const speedup = Object.entries(ratios).filter(([k]) => k.includes('dense time / sparse time'));
  if (speedup.length) {
    charts.push(
      barChart('MoE block: sparse against dense, dense time ÷ sparse time (higher is better)', '×',
        speedup.map(([k, v]) => ({ label: label(k), value: v, text: faster('sparse', 'dense', v) })), { reference: 1, referenceLabel: 'as fast' }),
    );
  }
  // Peer runs: the best peer's time over webmoe's at each shape (above 1: webmoe is faster); the
  // report's ratio is its inverse, webmoe's time over the best peer's.
  const peers = Object.entries(ratios).flatMap(([k, v]) => {
    const m = k.match(/^(.+): webmoe time \/ best peer time \((.+)\)$/);
    return m ? [{ label: `${m[1]} vs ${m[2]}`, value: 1 / v, text: faster('webmoe', m[2], 1 / v) }] : [];
  });
  if (peers.length) {
    charts.push(
      barChart('webmoe against the best peer, peer time ÷ webmoe time (above 1: webmoe is faster)', '×', peers, { reference: 1, referenceLabel: 'as fast' }),
    );
  }
  if (model) {
    charts.push(barChart(`${model.model.split('/').filter(Boolean).pop()} generation, tokens/s (higher is better)`, 'tok/s', [
      { label: 'prefill', value: model.prefillTokensPerSecond },
      { label: 'decode', value: model.decodeTokensPerSecond },
    ]));
  }
  box.replaceChildren(...charts);
}
