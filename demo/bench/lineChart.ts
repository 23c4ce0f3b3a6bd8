// Line charts in plain SVG, in the bar charts' font and colours (chart.ts): panels side by side over
// one set of x labels, each a line per series from 0 to its axis maximum, with a shared legend to
// the right. The tick labels sit left of each plot and the legend after the last, measured in the
// charts' font, so no text meets a line.
import { el, textWidth } from './chart.js';

export interface Series {
  name: string;
  /** one value per x label; NaN leaves a gap */
  values: number[];
  /** Drawn in the peers' colour (a second series). */
  alt?: boolean;
}

export interface Panel {
  title: string;
  series: Series[];
  /** The axis maximum; default: the largest value (and reference) rounded up to 1, 2 or 5 × 10^k. */
  max?: number;
  /** A tick label's text. */
  format: (v: number) => string;
  /** A dashed level (e.g. every expert resident) and its legend text. */
  reference?: { value: number; label: string };
}

/** 1, 2 or 5 × 10^k, at least v. */
function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((m) => m * p).find((c) => c >= v * (1 - 1e-9))!;
}

const PLOT_W = 220;
const PLOT_H = 120;
const TOP = 44; // below the chart's title and the panels' titles
const PAD = 14; // the first and last x labels centred inside the plot

export function lineChart(title: string, xTitle: string, xLabels: string[], panels: Panel[]): SVGSVGElement {
  const gap = 8;
  const row = 18;
  const items: SVGElement[] = [el('title', {}, title), el('text', { x: 0, y: 14, 'font-weight': 'bold' }, title)];
  const bottom = TOP + PLOT_H;
  let x0 = 0;
  for (const p of panels) {
    const values = p.series.flatMap((s) => s.values).filter((v) => Number.isFinite(v));
    const max = p.max ?? niceCeil(Math.max(...values, p.reference?.value ?? 0, 1e-9));
    const ticks = [0, max / 2, max];
    const left = x0 + Math.max(...ticks.map((t) => textWidth(p.format(t)))) + gap;
    const x = (i: number) => left + PAD + (xLabels.length > 1 ? (i / (xLabels.length - 1)) * (PLOT_W - 2 * PAD) : (PLOT_W - 2 * PAD) / 2);
    const y = (v: number) => bottom - (v / max) * PLOT_H;
    items.push(el('text', { x: left + PLOT_W / 2, y: TOP - 10, 'text-anchor': 'middle', 'font-weight': 'bold' }, p.title));
    for (const t of ticks) {
      items.push(
        el('line', { x1: left, x2: left + PLOT_W, y1: y(t), y2: y(t), class: 'grid' }),
        el('text', { x: left - 4, y: y(t) + 4, 'text-anchor': 'end' }, p.format(t)),
      );
    }
    xLabels.forEach((l, i) => items.push(el('text', { x: x(i), y: bottom + 14, 'text-anchor': 'middle' }, l)));
    items.push(el('text', { x: left + PLOT_W / 2, y: bottom + 30, 'text-anchor': 'middle' }, xTitle));
    if (p.reference) items.push(el('line', { x1: left, x2: left + PLOT_W, y1: y(p.reference.value), y2: y(p.reference.value), class: 'reference' }));
    for (const s of p.series) {
      const points = s.values.flatMap((v, i) => (Number.isFinite(v) ? [[x(i), y(v)]] : []));
      items.push(el('polyline', { points: points.map((pt) => pt.join(',')).join(' '), class: s.alt ? 'series alt' : 'series' }));
      for (const [i, v] of s.values.entries()) {
        if (!Number.isFinite(v)) continue;
        const dot = el('circle', { cx: x(i), cy: y(v), r: 3, ...(s.alt && { class: 'alt' }) });
        dot.append(el('title', {}, `${s.name}, ${xLabels[i]}: ${p.format(v)}`));
        items.push(dot);
      }
    }
    x0 = left + PLOT_W + 3 * gap;
  }
  // The legend: the series (the first panel's), then each panel's reference.
  const legend: [string, string][] = [
    ...panels[0].series.map((s): [string, string] => [s.name, s.alt ? 'series alt' : 'series']),
    ...panels.flatMap((p): [string, string][] => (p.reference ? [[p.reference.label, 'reference']] : [])),
  ];
  legend.forEach(([name, cls], i) => {
    const ly = TOP + i * row;
    items.push(el('line', { x1: x0, x2: x0 + 20, y1: ly + 8, y2: ly + 8, class: cls }), el('text', { x: x0 + 26, y: ly + 12 }, name));
  });
  const width = Math.max(x0 + 26 + Math.max(0, ...legend.map(([name]) => textWidth(name))), textWidth(title, true));
  const height = bottom + 38;
  const svg = el('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title });
  svg.append(...items);
  return svg;
}
