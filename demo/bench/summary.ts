// A report as a few lines of text to paste anywhere (an issue, a chat): the device, then per shape
// webmoe's time against the peers' and the dense block's, then the model's speed.
import type { BenchRecord } from '../../src/bench/cases.js';
import type { BenchReport } from '../../src/bench/report.js';
import { faster } from './ratios.js';

const ms = (v: number) => `${v < 10 ? v.toFixed(3) : v.toFixed(1)} ms`;

/** The browser and its version from a user agent ("Chrome 156"), or the agent itself. */
export function browserName(userAgent: string): string {
  // In this order: Edge's agent also names Chrome, Chrome's names Safari.
  for (const [token, name] of [['Edg', 'Edge'], ['Firefox', 'Firefox'], ['Chrome', 'Chrome'], ['Version', 'Safari']]) {
    const m = userAgent.match(new RegExp(`${token}/(\\d+)`));
    if (m) return `${name} ${m[1]}`;
  }
  return userAgent;
}

export function summary(r: BenchReport): string {
  const env = r.environment as { userAgent?: string; runtime?: string } | undefined;
  const where = env?.userAgent ? browserName(env.userAgent) : env?.runtime;
  const lines = [
    `webmoe bench, ${r.date.slice(0, 10)}: ${[r.adapter, where].filter(Boolean).join(', ')}; ${r.dtype} weights, ` +
    `${r.quick ? 'quick shapes, 1 run' : 'full shapes'}`,
  ];
  const peers = (shape: string, op: string) => r.records.filter((p) => p.name.startsWith('peer:') && p.name.endsWith(` ${op}`) && p.shape === shape);
  const row = (own: BenchRecord, others: BenchRecord[], op: string) => {
    const parts = [`webmoe ${ms(own.ms)}`, ...others.map((p) => `${p.name.slice(5, -op.length - 1)} ${ms(p.ms)}`)];
    const best = others.reduce<BenchRecord | undefined>((a, b) => (a && a.ms <= b.ms ? a : b), undefined);
    const verdict = best ? ` → ${faster('webmoe', best.name.slice(5, -op.length - 1), best.ms / own.ms)}` : '';
    return `${own.name} ${own.shape}: ${parts.join(', ')}${verdict}`;
  };
  for (const own of r.records) {
    if (own.name === 'copy') lines.push(`copy ${own.shape}: ${own.gbps?.toFixed(1)} GB/s`);
    if (own.name === 'gemm' || own.name === 'gemv') lines.push(row(own, peers(own.shape, 'gemm'), 'gemm'));
    if (own.name === 'moe') {
      const T = own.shape.split(' ')[0];
      const dense = r.records.find((d) => d.name === 'moe-dense' && d.shape.startsWith(`${T} `));
      lines.push(row(own, peers(own.shape, 'qmoe'), 'qmoe') + (dense ? `; dense block ${ms(dense.ms)} (${faster('sparse', 'dense', dense.ms / own.ms)})` : ''));
    }
  }
  for (const m of [r.model, r.synthetic]) {
    if (!m) continue;
    lines.push(`${m.model.split('/').filter(Boolean).pop()} (${m.dtype}): prefill ${m.prefillTokensPerSecond.toFixed(1)} tok/s, ` +
      `decode ${m.decodeTokensPerSecond.toFixed(1)} tok/s, first token ${m.timeToFirstTokenMs.toFixed(0)} ms`);
  }
  return lines.join('\n');
}
