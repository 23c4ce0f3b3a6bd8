// The expert cache's bench (`webmoe bench --expert-cache`, the benchmark page's budget curve) on the
// bundled model over a few tokens of the held-out text: a row per budget, policy and prefetch
// setting, each figure in its range (not an order: a few tokens' hit rates need not rise with the budget);
// with cache-aware margins, a row per margin too, margin 0 being the plain rows.
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { benchExpertCacheOnText, expertCacheBudgets } from '../../src/bench/expertCache.js';
import { nodeDirSource } from '../../src/io/nodeSource.js';
import { bundledModelDir } from '../../src/node.js';
import { testDevice } from '../helpers/gpu.js';

it('budgets: 2, 4 and 6 below the experts a layer, then all of them', () => {
  expect(expertCacheBudgets(8)).toEqual([2, 4, 6, 8]);
  expect(expertCacheBudgets(4)).toEqual([2, 4]);
  expect(expertCacheBudgets(128)).toEqual([2, 4, 6, 128]);
});

it('benchExpertCacheOnText: the rows of every budget on the bundled model, figures in range', async () => {
  const device = await testDevice();
  try {
    const text = readFileSync('bench/austen-heldout.txt', 'utf8');
    const seen: number[] = [];
    const r = await benchExpertCacheOnText(device, nodeDirSource(bundledModelDir), text, {
      dtype: 'f32',
      tokens: 6,
      warmup: 2,
      policies: ['lru'],
      onRow: (row) => seen.push(row.perLayer),
    });
    expect(r.tokens).toBe(4);
    expect(r.fusedTokensPerSecond).toBeGreaterThan(0);
    expect(r.rows.map((x) => [x.perLayer, x.experts, x.slots, x.policy, x.prefetch])).toEqual(
      [2, 4, 6, 8].flatMap((b) => [[b, 8, 4 * b, 'lru', false], [b, 8, 4 * b, 'lru', true]]),
    );
    expect(seen).toEqual(r.rows.map((x) => x.perLayer));
    for (const x of r.rows) {
      expect(x.hitRate).toBeGreaterThanOrEqual(0);
      expect(x.hitRate).toBeLessThanOrEqual(1);
      expect(x.bytesPerToken).toBeGreaterThanOrEqual(0);
      expect(x.decodeTokensPerSecond).toBeGreaterThan(0);
      expect(x.overFused).toBeCloseTo(x.decodeTokensPerSecond / r.fusedTokensPerSecond, 12);
      expect(x.margin).toBe(0);
      if (x.prefetch) expect([x.precision, x.recall].every((v) => v >= 0 && v <= 1)).toBe(true);
    }
    // With room for every expert a miss is an expert's first use, a miss at any budget too (the routing
    // is the same): no more bytes than at the minimum budget (prefetch off in both).
    expect(r.rows.at(-2)!.bytesPerToken).toBeLessThanOrEqual(r.rows[0].bytesPerToken);
  } finally {
    device.destroy();
  }
}, 300_000);

it('benchExpertCacheOnText with margins: rows per margin, perplexity finite and > 1, margin 0 the plain routing', async () => {
  const device = await testDevice();
  try {
    const text = readFileSync('bench/austen-heldout.txt', 'utf8');
    const o = { dtype: 'f32' as const, tokens: 8, warmup: 2, policies: ['lru' as const] };
    const plain = await benchExpertCacheOnText(device, nodeDirSource(bundledModelDir), text, o);
    const r = await benchExpertCacheOnText(device, nodeDirSource(bundledModelDir), text, { ...o, margins: [0, 0.5, 1e3] });
    expect(r.rows.map((x) => [x.margin, x.perLayer, x.prefetch])).toEqual(
      [0, 0.5, 1e3].flatMap((m) => [2, 4, 6, 8].flatMap((b) => [[m, b, false], [m, b, true]])),
    );
    for (const x of [plain.fusedPerplexity, ...plain.rows.map((x) => x.perplexity), ...r.rows.map((x) => x.perplexity)]) {
      expect(Number.isFinite(x)).toBe(true);
      expect(x).toBeGreaterThan(1);
    }
    // Margin 0 is the model's own routing: the plain rows' counts, and the all-resident logits' perplexity
    // (the cache's logits equal the fused path's to 1e-6).
    const zero = r.rows.filter((x) => x.margin === 0);
    expect(zero.map((x) => [x.hitRate, x.bytesPerToken])).toEqual(plain.rows.map((x) => [x.hitRate, x.bytesPerToken]));
    for (const x of [...zero, ...plain.rows]) expect(Math.abs(x.perplexity / plain.fusedPerplexity - 1)).toBeLessThan(1e-6);
    expect(r.fusedPerplexity).toBe(plain.fusedPerplexity);
    // A margin past any score gap, room for topK experts a layer, no prefetch: after the first token
    // every layer keeps to the experts it has (test/moe/cached/routing.test.ts), so no miss once timed.
    const steered = r.rows.find((x) => x.margin === 1e3 && x.perLayer === 2 && !x.prefetch)!;
    expect([steered.hitRate, steered.bytesPerToken]).toEqual([1, 0]);
    expect(zero.find((x) => x.perLayer === 2 && !x.prefetch)!.bytesPerToken).toBeGreaterThan(0);
  } finally {
    device.destroy();
  }
}, 600_000);
