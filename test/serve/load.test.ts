// `webmoe serve-bench`: the load client in a second process (built as the package builds it) against
// the server on the bundled model: every reply complete and equal to the sequential baseline, the
// figures consistent, the report written; and its helpers.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { levelsArg } from '../../src/cli/args.js';
import { benchRequests, serveBench } from '../../src/cli/serveBench.js';
import { quantile } from '../../src/gpu/timing.js';
import { buildWorkers } from '../helpers/workers.js';

it('serve-bench: a second process drives the server; every reply complete and equal to the baseline', async () => {
  const client = join(await buildWorkers(), 'serve-load-client.js');
  const out = join(mkdtempSync(join(tmpdir(), 'webmoe-serve-bench-')), 'serve.json');
  const report = await serveBench(['--requests', '6', '--concurrency', '1,3', '--max-tokens', '6', '--max-sequences', '1', '--out', out], client);
  expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(JSON.parse(JSON.stringify(report)));
  expect(report.rows.map((r) => [r.concurrency, r.requests, r.complete, r.correct])).toEqual([[1, 6, 6, 6], [3, 6, 6, 6]]);
  for (const r of [report.baseline, ...report.rows]) {
    expect(r.completionTokens).toBe(report.baseline.completionTokens);
    expect(r.tokensPerSecond).toBeCloseTo(r.completionTokens / (r.wallMs / 1000));
    expect(r.latencyP99Ms).toBeGreaterThanOrEqual(r.latencyP50Ms);
    expect(r.firstTokenP50Ms).toBeLessThanOrEqual(r.latencyP99Ms);
  }
});

it('helpers: distinct requests, the levels flag, nearest-rank quantiles', () => {
  const requests = benchRequests(32, 8, 'm');
  expect(new Set(requests.map((r) => JSON.stringify(r.messages))).size).toBe(32);
  expect(requests[0]).toMatchObject({ model: 'm', max_tokens: 8, temperature: 0 });
  expect(levelsArg('1,2,4,8', 'concurrency')).toEqual([1, 2, 4, 8]);
  expect(() => levelsArg('1,0', 'concurrency')).toThrow('--concurrency must be comma-separated whole numbers ≥ 1, got \'0\' in \'1,0\'');
  expect(() => levelsArg('1,,2', 'concurrency')).toThrow('got \'\' in');
  expect(quantile([5, 1, 4, 2, 3], 0.5)).toBe(3);
  expect(quantile([5, 1, 4, 2, 3], 0.99)).toBe(5);
  expect(quantile([1, 2, 3, 4], 0.5)).toBe(2);
  expect(quantile([NaN, 7], 0.5)).toBe(7);
});
