// The expert cache's bench (`webmoe bench --expert-cache`, the benchmark page's budget curve) on the
// bundled model over a few tokens of the held-out text: a row per budget, policy and prefetch
// setting, each figure in its range (not an order: a few tokens' hit rates need not rise with the budget).
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
      if (x.prefetch) expect([x.precision, x.recall].every((v) => v >= 0 && v <= 1)).toBe(true);
    }
    // With room for every expert a miss is an expert's first use, a miss at any budget too (the routing
    // is the same): no more bytes than at the minimum budget (prefetch off in both).
    expect(r.rows.at(-2)!.bytesPerToken).toBeLessThanOrEqual(r.rows[0].bytesPerToken);
  } finally {
    device.destroy();
  }
}, 300_000);
