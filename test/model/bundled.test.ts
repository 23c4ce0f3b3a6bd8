// The bundled default model (public/models/austen-moe, trained by scripts/model/train.py and
// fine-tuned on the novels' dialogue): webmoe's greedy continuation of a fixed prompt, and its greedy
// reply to a chat through the model's chat template, equal the float64 PyTorch reference's, token for
// token (test/fixtures/austen_greedy.json, written by scripts/model/export.py from the same file).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Engine } from '../../src/api/engine.js';
import { generate } from '../../src/cli/model.js';
import { perplexity } from '../../src/cli/perplexity.js';
import { nodeDirSource } from '../../src/io/nodeSource.js';
import type { ChatCompletionMessageParam } from '../../src/api/request.js';
import { bundledModelDir } from '../../src/node.js';
import { testDevice } from '../helpers/gpu.js';

interface Greedy {
  prompt: string;
  prompt_ids: number[];
  ids: number[];
  text: string;
  chat: (ChatCompletionMessageParam & { content: string })[];
  chat_max_tokens: number;
  chat_prompt_ids: number[];
  chat_ids: number[];
  chat_text: string;
  passage: string;
  passage_window: number;
  passage_loss: number;
}

const fixture = JSON.parse(readFileSync('test/fixtures/austen_greedy.json', 'utf8')) as Greedy;
const EOS = 1;

/** Runs the CLI with `args`, returning what it wrote to stdout. */
async function cli(args: string[]): Promise<string> {
  let out = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    out += String(s);
    return true;
  });
  vi.spyOn(console, 'error').mockImplementation(() => undefined);
  try {
    await generate(args);
  } finally {
    vi.restoreAllMocks();
  }
  return out;
}

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
    const out = await cli(['--prompt', fixture.prompt, '--max-tokens', '8']);
    expect(out.length).toBeGreaterThan(1);
    expect(fixture.text.startsWith(out.trimEnd())).toBe(true);
  });

  it('is a chat model: chat.completions replies as PyTorch does through the chat template', async () => {
    const engine = await Engine.load(device, nodeDirSource(bundledModelDir), { dtype: 'f16', contextLength: 256 });
    try {
      expect(engine.encode(fixture.chat)).toEqual(fixture.chat_prompt_ids);
      const r = await engine.chat.completions.create({ messages: fixture.chat, max_tokens: fixture.chat_max_tokens, temperature: 0 });
      expect(r.choices[0].message.content).toBe(fixture.chat_text);
      expect(r.choices[0].finish_reason).toBe(fixture.chat_ids.at(-1) === EOS ? 'stop' : 'length');
      expect(r.usage.prompt_tokens).toBe(fixture.chat_prompt_ids.length);
    } finally {
      engine.dispose();
    }
  });

  it('generate --chat replies through the chat template', async () => {
    const out = await cli(['--chat', '--prompt', fixture.chat[0].content!, '--max-tokens', String(fixture.chat_max_tokens)]);
    expect(out).toBe(`${fixture.chat_text}\n`);
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
