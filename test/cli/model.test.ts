// The CLI's model commands, run in-process on the fixture checkpoints.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { generate, inspect, logits } from '../../src/cli/model.js';
import { relativeError } from '../../src/moe/reference.js';
import { golden, modelDir } from '../helpers/models.js';
import { buildWorkers } from '../helpers/workers.js';

/** Runs a command and returns what it wrote to stdout and stderr. */
async function capture(run: () => Promise<void>): Promise<{ out: string; err: string }> {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    out += String(s);
    return true;
  });
  vi.spyOn(console, 'log').mockImplementation((...a) => {
    out += `${a.join(' ')}\n`;
  });
  vi.spyOn(console, 'error').mockImplementation((...a) => {
    err += `${a.join(' ')}\n`;
  });
  await run();
  vi.restoreAllMocks();
  return { out, err };
}

describe('webmoe CLI', () => {
  afterEach(() => vi.restoreAllMocks());

  it('logits prints every position as JSON, matching the golden logits', async () => {
    const g = golden('qwen3_moe');
    const { out } = await capture(() => logits(['--model', modelDir('qwen3_moe'), '--tokens', g.tokens.join(',')]));
    const rows = (JSON.parse(out) as { logits: number[][] }).logits;
    expect(rows.length).toBe(g.tokens.length);
    rows.forEach((r, t) => expect(relativeError(r, g.logits[t])).toBeLessThan(1e-4));
  });

  it('logits names a token id outside the vocabulary and an empty --tokens item', async () => {
    await expect(logits(['--model', modelDir('qwen3_moe'), '--tokens', '1,100000'])).rejects.toThrow(
      expect.objectContaining({ name: 'DecoderInputError', message: expect.stringMatching(/token 1 is 100000, outside the vocabulary 0…\d+/) }),
    );
    await expect(logits(['--model', modelDir('qwen3_moe'), '--tokens', '1,,3'])).rejects.toThrow(
      expect.objectContaining({ name: 'UsageError', message: expect.stringMatching(/an empty item at item 2/) }),
    );
  });

  it('generate streams text, then the stats', async () => {
    const { out, err } = await capture(() =>
      generate(['--model', modelDir('mixtral'), '--prompt', 'Hello', '--max-tokens', '4', '--seed', '1', '--temperature', '0.8'])
    );
    expect(out.length).toBeGreaterThan(0);
    expect(err).toMatch(/\d+ prompt tokens, 4 generated \(length\); prefill [\d.]+ tok\/s, decode [\d.]+ tok\/s, time to first token \d+ ms/);
  });

  it('logits --workers 2 and generate --workers 1 --gpu-expert-budget MB give the single-device results', async () => {
    await buildWorkers(); // the shard worker script, from source (see test/workers/build.ts)
    const g = golden('mixtral');
    const { out } = await capture(() => logits(['--model', modelDir('mixtral'), '--tokens', g.tokens.join(','), '--workers', '2']));
    const rows = (JSON.parse(out) as { logits: number[][] }).logits;
    rows.forEach((r, t) => expect(relativeError(r, g.logits[t])).toBeLessThan(1e-4));
    const args = ['--model', modelDir('mixtral'), '--prompt', 'Hello', '--max-tokens', '6'];
    const one = await capture(() => generate(args));
    // half of the 8 experts of each of the 2 layers (12 KiB each) within the budget: the rest on a CPU worker
    const split = await capture(() => generate([...args, '--workers', '1', '--gpu-expert-budget', String((4 * 2 * 12288) / 2 ** 20)]));
    expect(split.out).toBe(one.out);
    await expect(generate([...args, '--gpu-expert-budget', '1'])).rejects.toThrow('--gpu-expert-budget and --cpu-workers need --workers N');
  });

  it('inspect lists tensors and the parsed config, or names the problem of a bad file', async () => {
    const { out } = await capture(() => inspect([modelDir('granitemoe')]));
    expect(out).toMatch(/model\.layers\.1\.block_sparse_moe\.input_linear\.weight\s+F32\s+\[5, 48, 64\]\s+61440 bytes/);
    expect(out).toMatch(/"topkBeforeSoftmax": true/);
    const { out: one } = await capture(() => inspect([join(modelDir('olmoe_bf16'), 'model.safetensors')]));
    expect(one).toMatch(/model\.embed_tokens\.weight\s+BF16\s+\[320, 64\]\s+40960 bytes/);
    const dir = mkdtempSync(join(tmpdir(), 'webmoe-'));
    const bad = join(dir, 'bad.safetensors');
    writeFileSync(bad, Buffer.from([0xff, 0, 0, 0, 0, 0, 0, 0, 0x7b]));
    await expect(inspect([bad])).rejects.toThrow(/bad\.safetensors.*header length 255 goes beyond/i);
  });
});
