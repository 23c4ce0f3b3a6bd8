// The expert-parallel scheduler in Chromium (SwiftShader): the mixtral fixture loaded by URL with its
// routed experts on module Workers — 2 GPU shard workers, each with its own device from navigator.gpu
// inside the worker, and half the experts on a CPU worker — started from the TypeScript shard worker
// (`shardWorkerUrl`, transformed by Vite's dev server). Logits match the fused single-device path in the
// same page (≤ 1e-5 relative L2 per position) and the golden float64 logits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { relativeError } from '../../src/moe/reference.js';
import { golden, modelDir } from '../helpers/models.js';
import { type BrowserPage, openPage } from './browser.js';
import type { runSharded } from './experts.js';

const EXPERT_BYTES = 3 * 64 * 16 * 4; // mixtral fixture: H 64, I 16, f32

let browser: BrowserPage;
const workerUrls: string[] = [];
beforeAll(async () => {
  browser = await openPage('test/e2e/experts.html');
  browser.page.on('worker', (w) => workerUrls.push(w.url()));
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

describe('expert-parallel scheduler in Chromium', () => {
  it('2 GPU shard workers, and half the experts on a CPU worker: the fused and golden logits', async () => {
    const g = golden('mixtral');
    const configs = [{ workers: 2 }, { workers: 1, gpuExpertBudgetBytes: 4 * 2 * EXPERT_BYTES }];
    await browser.page.waitForFunction(() => 'runSharded' in globalThis);
    const { fused, runs } = await browser.page.evaluate(
      ({ url, tokens, configs }) => (globalThis as unknown as { runSharded: typeof runSharded }).runSharded(url, tokens, configs),
      { url: new URL(`/${modelDir('mixtral')}/`, browser.page.url()).href, tokens: g.tokens, configs },
    );
    fused.forEach((row, t) => expect(relativeError(row, g.logits[t])).toBeLessThan(1e-4));
    expect(runs.map((r) => r.kinds)).toEqual([['gpu', 'gpu'], ['gpu', 'cpu']]);
    for (const r of runs) {
      r.logits.forEach((row, t) => {
        expect(relativeError(row, fused[t])).toBeLessThanOrEqual(1e-5);
        expect(relativeError(row, g.logits[t])).toBeLessThan(1e-4);
      });
      // every worker computed rows: all top-k rows of every MoE layer went to the shards
      expect(r.layerCalls).toBeGreaterThan(0);
      for (const n of r.rowsPerWorker) expect(n).toBeGreaterThan(0);
      expect(r.rowsPerWorker.reduce((a, b) => a + b, 0)).toBe(r.layerCalls * g.tokens.length * 2);
    }
    // real module Workers, started from the TypeScript source through Vite: 2 per configuration
    expect(workerUrls.filter((u) => u.endsWith('/src/moe/sharded/shardWorker.ts'))).toHaveLength(4);
  }, 120_000);
});
