// webmoe sweep on the mixtral fixture: a row per k and per top-p, figures that follow the active
// experts, perplexity at the model's k equal to webmoe perplexity's, and the chart.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { perplexity } from '../../src/cli/perplexity.js';
import { type Sweep, sweep } from '../../src/cli/sweep.js';
import { modelDir } from '../helpers/models.js';

/** What a CLI command prints with console.log. */
async function printed(run: () => Promise<void>): Promise<string> {
  let out = '';
  vi.spyOn(console, 'log').mockImplementation((...a) => void (out += a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation(() => {});
  try {
    await run();
  } finally {
    vi.restoreAllMocks();
  }
  return out;
}

describe('webmoe sweep', () => {
  it('measures each k and top-p, and charts them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webmoe-sweep-'));
    const text = join(dir, 'text.txt');
    writeFileSync(text, 'The cat sat on the mat, and the dog lay by the door. '.repeat(6));
    const model = ['--model', modelDir('mixtral'), '--text', text, '--window', '24', '--windows', '2'];
    const out = { json: join(dir, 'sweep.json'), svg: join(dir, 'sweep.svg') };
    const s = JSON.parse(
      await printed(() => sweep([...model, '--max-k', '3', '--top-p', '0.4,0.9', '--decode-tokens', '3', '--out', out.json, '--svg', out.svg])),
    ) as Sweep;
    expect(JSON.parse(readFileSync(out.json, 'utf8'))).toEqual(s);
    expect(s.rows.map((r) => [r.series, r.routing])).toEqual([
      ['k', { topK: 1 }],
      ['k', { topK: 2 }],
      ['k', { topK: 3 }],
      ['top-p', { topP: 0.4 }],
      ['top-p', { topP: 0.9 }],
      ['top-p, k ≤ K', { topP: 0.4, topK: 3 }],
      ['top-p, k ≤ K', { topP: 0.9, topK: 3 }],
    ]);
    const [k1, k2, k3] = s.rows;
    expect([k1.activePerToken, k2.activePerToken, k3.activePerToken]).toEqual([1, 2, 3]);
    expect(k3.expertFlopsPerToken / k1.expertFlopsPerToken).toBeCloseTo(3, 9);
    expect(k3.expertBytesPerToken / k1.expertBytesPerToken).toBeCloseTo(3, 9);
    for (const r of s.rows.slice(3, 5)) expect(r.activePerToken).toBeLessThanOrEqual(2);
    for (const r of s.rows) expect(r.decodeTokensPerSecond).toBeGreaterThan(0);
    // At the model's k the sweep's perplexity is webmoe perplexity's.
    const plain = JSON.parse(await printed(() => perplexity(model))) as { loss: number };
    expect(k2.loss).toBeCloseTo(plain.loss, 12);
    const svg = readFileSync(out.svg, 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<polyline/g)).toHaveLength(3);
    expect(svg.match(/<circle/g)).toHaveLength(7);
  });
});
