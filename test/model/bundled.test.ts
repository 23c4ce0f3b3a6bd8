// The bundled default model (public/models/austen-moe, trained by scripts/model/train.py): webmoe's
// greedy continuation of a fixed prompt equals the float64 PyTorch reference's, token for token
// (test/fixtures/austen_greedy.json, written by scripts/model/export.py from the same file).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Engine } from '../../src/api/engine.js';
import { generate } from '../../src/cli/model.js';
import { perplexity } from '../../src/cli/perplexity.js';
import { nodeDirSource } from '../../src/io/nodeSource.js';
import { bundledModelDir } from '../../src/node.js';
import { testDevice } from '../helpers/gpu.js';

interface Greedy {
  prompt: string;
  prompt_ids: number[];
  ids: number[];
  text: string;
  passage: string;
  passage_window: number;
  passage_loss: number;
}

const fixture = JSON.parse(readFileSync('test/fixtures/austen_greedy.json', 'utf8')) as Greedy;

describe('the bundled model', () => {
  let device: GPUDevice;
  beforeAll(async () => {
    device = await testDevice();
  });
  afterAll(() => device.destroy());

  it.each(['f32', 'f16'] as const)('greedy output equals PyTorch (%s)', async (dtype) => {
    const engine = await Engine.load(device, nodeDirSource(bundledModelDir), { dtype, contextLength: 128 });
    try {
      expect(engine.encode(fixture.prompt)).toEqual(fixture.prompt_ids);
      const tokens: number[] = [];
      let text = '';
      for await (const c of engine.generate(fixture.prompt, { maxTokens: fixture.ids.length })) {
        tokens.push(...c.tokens);
        text += c.text;
      }
      expect(tokens).toEqual(fixture.ids);
      expect(text).toBe(fixture.text);
    } finally {
      engine.dispose();
    }
  });

  it('is the CLI default: generate with no --model continues the prompt greedily', async () => {
    let out = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
      out += String(s);
      return true;
    });
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      await generate(['--prompt', fixture.prompt, '--max-tokens', '8']);
    } finally {
      vi.restoreAllMocks();
    }
    expect(out.length).toBeGreaterThan(1);
    expect(fixture.text.startsWith(out.trimEnd())).toBe(true);
  });

  it('webmoe perplexity scores a passage as the reference does', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'webmoe-')), 'passage.txt');
    writeFileSync(file, fixture.passage);
    let out = '';
    vi.spyOn(console, 'log').mockImplementation((...a) => {
      out += a.join(' ');
    });
    try {
      await perplexity(['--text', file, '--window', String(fixture.passage_window)]);
    } finally {
      vi.restoreAllMocks();
    }
    const r = JSON.parse(out) as { loss: number; tokens: number; windows: number };
    expect(r.windows).toBe(1);
    expect(r.tokens).toBe(fixture.passage_window);
    expect(Math.abs(r.loss - fixture.passage_loss)).toBeLessThan(1e-4);
  });
});
