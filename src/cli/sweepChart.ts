// The sweep's chart as a standalone SVG: perplexity against the mean experts run per token, one
// line for the k overrides and one for top-p (each point labelled), the model's own k marked.
import type { Sweep } from './sweep.js';

const W = 640;
const H = 400;
const M = { left: 64, right: 24, top: 36, bottom: 48 };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** Round steps for an axis over [lo, hi]. */
function ticks(lo: number, hi: number, n = 6): number[] {
  const step = 10 ** Math.floor(Math.log10((hi - lo) / n || 1));
  const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => (hi - lo) / s <= n) ?? 10 * step;
  const out: number[] = [];
  for (let t = Math.ceil(lo / nice) * nice; t <= hi + 1e-9; t += nice) out.push(Number(t.toPrecision(6)));
  return out;
}

export function sweepChart(s: Sweep): string {
  const xs = s.rows.map((r) => r.activePerToken);
  const ys = s.rows.map((r) => r.perplexity);
  const [x0, x1] = [0, Math.max(...xs) * 1.05];
  const pad = (Math.max(...ys) - Math.min(...ys)) * 0.08 || 1;
  const [y0, y1] = [Math.min(...ys) - pad, Math.max(...ys) + pad];
  const px = (x: number) => M.left + ((x - x0) / (x1 - x0)) * (W - M.left - M.right);
  const py = (y: number) => H - M.bottom - ((y - y0) / (y1 - y0)) * (H - M.top - M.bottom);
  const parts: string[] = [];
  for (const t of ticks(x0, x1)) {
    parts.push(`<line x1="${px(t)}" y1="${M.top}" x2="${px(t)}" y2="${H - M.bottom}" stroke="#eee"/>`);
    parts.push(`<text x="${px(t)}" y="${H - M.bottom + 16}" text-anchor="middle">${t}</text>`);
  }
  for (const t of ticks(y0, y1)) {
    parts.push(`<line x1="${M.left}" y1="${py(t)}" x2="${W - M.right}" y2="${py(t)}" stroke="#eee"/>`);
    parts.push(`<text x="${M.left - 6}" y="${py(t) + 4}" text-anchor="end">${t}</text>`);
  }
  type Row = Sweep['rows'][number];
  const series = [
    ['k', '#1f77b4', (r: Row) => `k=${r.routing.topK}`, 'k override (k = 1 … K)'],
    ['top-p', '#d62728', (r: Row) => `p=${r.routing.topP}`, `top-p, k ≤ ${s.topK} (the model's)`],
    ['top-p, k ≤ K', '#2ca02c', (r: Row) => `p=${r.routing.topP}`, `top-p, k ≤ ${Math.max(...s.rows.map((r) => r.routing.topK ?? 0))}`],
  ] as const;
  for (const [name, color, label] of series) {
    const rows = s.rows.filter((r) => r.series === name).sort((a, b) => a.activePerToken - b.activePerToken);
    if (!rows.length) continue;
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${rows.map((r) => `${px(r.activePerToken)},${py(r.perplexity)}`).join(' ')}"/>`,
    );
    for (const r of rows) {
      const own = r.series === 'k' && r.routing.topK === s.topK;
      parts.push(`<circle cx="${px(r.activePerToken)}" cy="${py(r.perplexity)}" r="${own ? 5 : 3.5}" fill="${own ? 'white' : color}" stroke="${color}"/>`);
      parts.push(`<text x="${px(r.activePerToken) + 6}" y="${py(r.perplexity) - 6}" fill="${color}">${esc(label(r))}</text>`);
    }
  }
  const legend = series.filter(([name]) => s.rows.some((r) => r.series === name)).map(([, color, , title], i) =>
    `<g transform="translate(${W - M.right - 170},${M.top + 8 + i * 18})"><line x1="0" y1="-4" x2="18" y2="-4" stroke="${color}" stroke-width="2"/>` +
    `<text x="24" y="0">${esc(title)}</text></g>`
  );
  const xTitle = `mean experts per token per layer (of ${s.experts}; the model's k is ${s.topK}, open circle)`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">
<rect width="${W}" height="${H}" fill="white"/>
<text x="${W / 2}" y="20" text-anchor="middle" font-size="13">${esc(`${s.model}: perplexity against experts run per token (${s.tokens} tokens)`)}</text>
${parts.join('\n')}
<line x1="${M.left}" y1="${H - M.bottom}" x2="${W - M.right}" y2="${H - M.bottom}" stroke="#333"/>
<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${H - M.bottom}" stroke="#333"/>
<text x="${(M.left + W - M.right) / 2}" y="${H - 10}" text-anchor="middle">${xTitle}</text>
<text x="16" y="${(M.top + H - M.bottom) / 2}" transform="rotate(-90 16 ${(M.top + H - M.bottom) / 2})" text-anchor="middle">perplexity</text>
${legend.join('\n')}
</svg>
`;
}
