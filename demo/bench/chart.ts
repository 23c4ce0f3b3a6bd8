// Horizontal bar charts in plain SVG: one bar per labelled value, scaled to the largest. The label
// column is as wide as the widest label and the width leaves room for the widest value text (both
// measured in the charts' font), so neither overlaps a bar, whatever the labels.
export interface Bar {
  label: string;
  value: number;
  /** The text after the bar; default: the value to 3 digits and the unit. */
  text?: string;
}

const NS = 'http://www.w3.org/2000/svg';
/** The charts' font (style.css sets the same on `.charts text`). */
const FONT = '11px system-ui, sans-serif';

function el<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

let measure: CanvasRenderingContext2D | null | undefined;
/** A text's width in the charts' font (a canvas measures without layout); 7 px a character without one. */
function textWidth(text: string, bold = false): number {
  measure ??= document.createElement('canvas').getContext('2d');
  if (!measure) return text.length * 7;
  measure.font = bold ? `bold ${FONT}` : FONT;
  return Math.ceil(measure.measureText(text).width);
}

/**
 * A bar chart titled `title`; `reference` draws a dashed line at that value (e.g. 1 on a ratio
 * chart), named by `referenceLabel`.
 */
export function barChart(title: string, unit: string, bars: Bar[], o: { reference?: number; referenceLabel?: string } = {}): SVGSVGElement {
  const texts = bars.map((b) => b.text ?? `${b.value.toPrecision(3)} ${unit}`);
  const gap = 8;
  const labelWidth = Math.max(0, ...bars.map((b) => textWidth(b.label))) + gap;
  const barWidth = 300;
  const valueWidth = Math.max(0, ...texts.map((t) => textWidth(t))) + gap;
  const row = 18;
  const top = o.reference === undefined ? 24 : 38;
  const width = Math.max(labelWidth + barWidth + valueWidth, textWidth(title, true));
  const height = top + bars.length * row;
  const svg = el('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title });
  svg.append(el('title', {}, title), el('text', { x: 0, y: 14, 'font-weight': 'bold' }, title));
  const most = Math.max(...bars.map((b) => b.value), o.reference ?? 0, 1e-12);
  const x = (v: number) => labelWidth + (v / most) * barWidth;
  bars.forEach((b, i) => {
    const y = top + i * row;
    const w = Math.max(1, x(b.value) - labelWidth);
    svg.append(
      el('text', { x: 0, y: y + 12 }, b.label),
      el('rect', { x: labelWidth, y: y + 2, width: w, height: row - 6 }),
      el('text', { x: labelWidth + w + 4, y: y + 12 }, texts[i]),
    );
  });
  if (o.reference !== undefined) {
    const rx = x(o.reference);
    svg.append(
      el('line', { x1: rx, x2: rx, y1: top - 4, y2: height, class: 'reference' }),
      el('text', { x: rx, y: top - 8, 'text-anchor': 'middle' }, o.referenceLabel ?? String(o.reference)),
    );
  }
  return svg;
}
