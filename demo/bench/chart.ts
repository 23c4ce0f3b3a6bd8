// Horizontal bar charts in plain SVG: one bar per labelled value, scaled to the largest. The label
// column is as wide as the widest label and the width leaves room for the widest value text (both
// measured in the charts' font), so neither overlaps a bar, whatever the labels.
export interface Bar {
  label: string;
  value: number;
  /** The text after the bar; default: the value to 3 digits and the unit. */
  text?: string;
  /** A peer library's bar (drawn in the peers' colour). */
  peer?: boolean;
}

const NS = 'http://www.w3.org/2000/svg';
/** The charts' font (style.css sets the same on `.charts text`). */
const FONT = '11px system-ui, sans-serif';

export function el<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

let measure: CanvasRenderingContext2D | null | undefined;
/** A text's width in the charts' font (a canvas measures without layout); 7 px a character without one. */
export function textWidth(text: string, bold = false): number {
  measure ??= document.createElement('canvas').getContext('2d');
  if (!measure) return text.length * 7;
  measure.font = bold ? `bold ${FONT}` : FONT;
  return Math.ceil(measure.measureText(text).width);
}

/**
 * A bar chart titled `title`. With `reference`, a ratio chart: a log scale, a dashed line at that
 * value (e.g. 1, named `referenceLabel`: "as fast") and each bar from the line to its value, so that
 * 4× slower and 4× faster are bars of one length on either side.
 */
export function barChart(title: string, unit: string, bars: Bar[], o: { reference?: number; referenceLabel?: string } = {}): SVGSVGElement {
  const texts = bars.map((b) => b.text ?? `${b.value.toPrecision(3)} ${unit}`);
  const gap = 8;
  const labelWidth = Math.max(0, ...bars.map((b) => textWidth(b.label))) + gap;
  const barWidth = 300;
  const valueWidth = Math.max(0, ...texts.map((t) => textWidth(t))) + gap;
  const row = 18;
  const ref = o.reference;
  const top = ref === undefined ? 24 : 38;
  const width = Math.max(labelWidth + barWidth + valueWidth, textWidth(title, true));
  const height = top + bars.length * row;
  const svg = el('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title });
  svg.append(el('title', {}, title), el('text', { x: 0, y: 14, 'font-weight': 'bold' }, title));
  const values = bars.map((b) => b.value);
  let x: (v: number) => number;
  if (ref === undefined) {
    const most = Math.max(...values, 1e-12);
    x = (v) => labelWidth + (v / most) * barWidth;
  } else {
    const lo = Math.log(Math.min(...values, ref));
    const hi = Math.log(Math.max(...values, ref));
    const span = hi - lo || Math.log(2);
    x = (v) => labelWidth + ((Math.log(v) - lo) / span) * barWidth;
  }
  const from = ref === undefined ? labelWidth : x(ref);
  bars.forEach((b, i) => {
    const y = top + i * row;
    const left = Math.min(from, x(b.value));
    const w = Math.max(1, Math.abs(x(b.value) - from));
    svg.append(
      el('text', { x: 0, y: y + 12 }, b.label),
      el('rect', { x: left, y: y + 2, width: w, height: row - 6, ...(b.peer && { class: 'peer' }) }),
      // Right of the bar, or of the reference line for a bar left of it.
      el('text', { x: Math.max(left + w, from) + 4, y: y + 12 }, texts[i]),
    );
  });
  if (ref !== undefined) {
    svg.append(
      el('line', { x1: from, x2: from, y1: top - 2, y2: height, class: 'reference' }),
      el('text', { x: from, y: top - 8, 'text-anchor': 'middle' }, o.referenceLabel ?? String(ref)),
    );
  }
  return svg;
}
