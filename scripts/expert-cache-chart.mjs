// Draws the expert cache's budget curve (docs/expert-cache-budget.svg) from the JSON of
// `webmoe bench --expert-cache`: hit rate and decode tok/s against the experts a layer keeps on the
// GPU, one line per policy and prefetch setting (the all-resident fused rate as a dashed line).
// Usage: node scripts/expert-cache-chart.mjs [bench-results/expert-cache.json] [docs/expert-cache-budget.svg]
import { readFileSync, writeFileSync } from 'node:fs';

const [input = 'bench-results/expert-cache.json', output = 'docs/expert-cache-budget.svg'] = process.argv.slice(2);
const bench = JSON.parse(readFileSync(input, 'utf8'));
// The model's own routing only (rows of --cache-aware-margins > 0 left out; older JSON has no margin).
const rows = bench.rows.filter((r) => !r.margin);
const budgets = [...new Set(rows.map((r) => r.perLayer))].sort((a, b) => a - b);
const series = [...new Set(rows.map((r) => `${r.policy}${r.prefetch ? ' + prefetch' : ''}`))];
const colors = ['#1f77b4', '#2ca02c', '#d62728', '#ff7f0e'];
const W = 360, H = 240, M = { l: 48, r: 12, t: 28, b: 40 };

function panel(x0, title, value, max, unit, fused) {
  const px = (b) => x0 + M.l + ((b - budgets[0]) / (budgets[budgets.length - 1] - budgets[0] || 1)) * (W - M.l - M.r);
  const py = (v) => M.t + (1 - v / max) * (H - M.t - M.b);
  const out = [`<text x="${x0 + W / 2}" y="16" text-anchor="middle" font-weight="bold">${title}</text>`];
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    out.push(`<line x1="${x0 + M.l}" x2="${x0 + W - M.r}" y1="${py(v)}" y2="${py(v)}" stroke="#ddd"/>`);
    out.push(`<text x="${x0 + M.l - 4}" y="${py(v) + 4}" text-anchor="end">${unit === '%' ? `${Math.round(v)}%` : v.toFixed(0)}</text>`);
  }
  for (const b of budgets) out.push(`<text x="${px(b)}" y="${H - M.b + 16}" text-anchor="middle">${b}/${rows[0].experts}</text>`);
  out.push(`<text x="${x0 + W / 2}" y="${H - 6}" text-anchor="middle">experts a layer on the GPU</text>`);
  if (fused !== undefined) {
    out.push(`<line x1="${x0 + M.l}" x2="${x0 + W - M.r}" y1="${py(fused)}" y2="${py(fused)}" stroke="#555" stroke-dasharray="4 3"/>`);
    out.push(`<text x="${x0 + W - M.r}" y="${py(fused) - 4}" text-anchor="end" fill="#555">all resident (fused)</text>`);
  }
  series.forEach((name, i) => {
    const pts = budgets.map((b) => rows.find((r) => r.perLayer === b && `${r.policy}${r.prefetch ? ' + prefetch' : ''}` === name))
      .filter(Boolean).map((r) => `${px(r.perLayer).toFixed(1)},${py(value(r)).toFixed(1)}`);
    out.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${colors[i % colors.length]}" stroke-width="2"/>`);
  });
  return out.join('\n');
}

const maxTps = Math.ceil(Math.max(bench.fusedTokensPerSecond, ...rows.map((r) => r.decodeTokensPerSecond)) / 4) * 4;
const legend = series.map((name, i) =>
  `<rect x="${2 * W + 8}" y="${40 + 18 * i}" width="12" height="3" fill="${colors[i % colors.length]}"/><text x="${2 * W + 24}" y="${
    45 + 18 * i
  }">${name}</text>`
).join('\n');
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W + 130}" height="${H}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
${panel(0, 'hit rate', (r) => 100 * r.hitRate, 100, '%')}
${panel(W, 'decode tok/s', (r) => r.decodeTokensPerSecond, maxTps, 'tok/s', bench.fusedTokensPerSecond)}
${legend}
</svg>
`;
writeFileSync(output, svg);
console.log(`wrote ${output}`);
