// The chat page's model field (Hugging Face repo pages become their resolve/ folders) and its
// catalogue of known models.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CATALOGUE, fit } from '../../demo/chat/catalogue.js';
import { resolveModelUrl } from '../../demo/chat/source.js';

const page = 'http://localhost:5173/index.html';

describe('resolveModelUrl', () => {
  it('turns a Hugging Face repo URL into its file folder', () => {
    expect(resolveModelUrl('https://huggingface.co/ibm-granite/granite-3.1-1b-a400m-instruct', page))
      .toBe('https://huggingface.co/ibm-granite/granite-3.1-1b-a400m-instruct/resolve/main/');
    expect(resolveModelUrl(' https://huggingface.co/allenai/OLMoE-1B-7B-0125-Instruct/tree/v2 ', page))
      .toBe('https://huggingface.co/allenai/OLMoE-1B-7B-0125-Instruct/resolve/v2/');
    expect(resolveModelUrl('https://huggingface.co/org/name/blob/main/config.json', page))
      .toBe('https://huggingface.co/org/name/resolve/main/');
  });

  it('keeps other URLs as folders, relative ones against the page', () => {
    expect(resolveModelUrl('./models/austen-moe', page)).toBe('http://localhost:5173/models/austen-moe/');
    expect(resolveModelUrl('https://example.org/m/', page)).toBe('https://example.org/m/');
  });

  it('refuses what is not a model', () => {
    expect(() => resolveModelUrl('', page)).toThrow(/Enter a model URL/);
    expect(() => resolveModelUrl('https://huggingface.co/datasets/a/b', page)).toThrow(/a Hugging Face dataset, not a model/);
    expect(() => resolveModelUrl('https://huggingface.co/gpt2x', page)).toThrow(/names ORG\/NAME/);
  });
});

describe('the chat page catalogue', () => {
  // docs/models.md's table of real checkpoints (printed by test/model/familySizes.test.ts).
  const table = readFileSync('docs/models.md', 'utf8').split('\n').filter((l) => /^\| [\w.-]+\/[\w.-]+ \| /.test(l));

  it('holds the Hub repos of docs/models.md with their sizes', () => {
    const hub = CATALOGUE.filter((e) => e.url.startsWith('https://'));
    expect(hub.map((e) => e.repo)).toEqual(table.map((l) => l.split('|')[1].trim()));
    for (const e of hub) {
      const cells = table.find((l) => l.startsWith(`| ${e.repo} |`))!.split('|').map((c) => c.trim());
      const [family, params, f32, f16, q8, q4] = cells.slice(2, 8);
      expect(family).toBe(e.family);
      expect(params.match(/[\d.]+/g)!.map(Number)).toEqual([e.params, e.active]);
      expect([f32, f16, q8, q4].map(Number)).toEqual([e.gb.f32, e.gb.f16, e.gb.q8, e.gb.q4]);
      expect(cells[10]).toBe(`${e.kvKiB} KiB`);
    }
  });

  it('says whether a model fits the memory the browser reports', () => {
    const bundled = CATALOGUE[0];
    expect(fit(bundled, 'q4', 1 / 64).fits).toBe(true);
    expect(fit(bundled, 'f16', 1 / 64).fits).toBe(false);
    expect(fit(bundled, 'f16', undefined)).toMatchObject({ fits: undefined, text: 'unknown' });
  });
});
