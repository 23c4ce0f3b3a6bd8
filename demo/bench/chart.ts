// Horizontal bar charts in plain SVG: one bar per labelled value, scaled to the largest.
export interface Bar {
  label: string;
  value: number;
}

const NS = 'http://www.w3.org/2000/svg';

function el<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

export function barChart(title: string, unit: string, bars: Bar[]): SVGSVGElement {
  const labelWidth = 270;
  const barWidth = 300;
  const row = 18;
  const height = 24 + bars.length * row;
  const svg = el('svg', { width: labelWidth + barWidth + 90, height, role: 'img', 'aria-label': title });
  svg.append(el('title', {}, title), el('text', { x: 0, y: 14, 'font-weight': 'bold' }, title));
  const most = Math.max(...bars.map((b) => b.value), 1e-12);
  bars.forEach((b, i) => {
    const y = 24 + i * row;
    const w = Math.max(1, (b.value / most) * barWidth);
    svg.append(
      el('text', { x: 0, y: y + 12 }, b.label),
      el('rect', { x: labelWidth, y: y + 2, width: w, height: row - 6 }),
      el('text', { x: labelWidth + w + 4, y: y + 12 }, `${b.value.toPrecision(3)} ${unit}`),
    );
  });
  return svg;
}
