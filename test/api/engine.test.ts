// Generation on the mixtral fixture (random weights, the fixture tokenizer): greedy decode with the
// KV cache against argmax of full recomputes, seeds, stops, abort, traces and the OpenAI surface.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, type GenerationChunk } from '../../src/api/engine.js';
import { nodeDirSource } from '../../src/io/nodeSource.js';
import { abortAfter, collect } from '../helpers/generation.js';
import { testDevice } from '../helpers/gpu.js';
import { modelDir } from '../helpers/models.js';

const argmax = (a: Float32Array) => a.reduce((best, v, i) => (v > a[best] ? i : best), 0);

describe('Engine', () => {
  let device: GPUDevice;
  let engine: Engine;
  beforeAll(async () => {
    device = await testDevice();
    engine = await Engine.load(device, nodeDirSource(modelDir('mixtral')), { contextLength: 64 });
  });
  afterAll(() => {
    engine.dispose();
    device.destroy();
  });

  it('greedy generation equals argmax over full recomputes', async () => {
    const prompt = [0, 17, 42, 99, 5];
    const { tokens, chunks } = await collect(engine.generate({ tokens: prompt }, { maxTokens: 6 }));
    const expected: number[] = [];
    const seq = [...prompt];
    for (let i = 0; i < tokens.length; i++) {
      const rows = await engine.logits(seq);
      const next = argmax(rows[rows.length - 1]);
      expected.push(next);
      seq.push(next);
    }
    expect(tokens).toEqual(expected);
    const stats = chunks[chunks.length - 1].stats!;
    expect(stats.promptTokens).toBe(5);
    expect(stats.completionTokens).toBe(tokens.length);
    expect(stats.prefillTokensPerSecond).toBeGreaterThan(0);
    expect(stats.timeToFirstTokenMs).toBeGreaterThan(0);
  });

  it('same seed, same tokens; another seed, other tokens', async () => {
    const run = (seed: number) => collect(engine.generate('The cat', { maxTokens: 12, temperature: 1.5, seed }));
    const a = await run(7);
    const b = await run(7);
    const c = await run(8);
    expect(a.tokens).toEqual(b.tokens);
    expect(a.text).toBe(b.text);
    expect(c.tokens).not.toEqual(a.tokens);
  });

  it('samples on the GPU as on the CPU: the same greedy tokens, the same tokens for a seed', async () => {
    const prompt = { tokens: [0, 17, 42, 99, 5] };
    const greedy = (sampling: 'gpu' | 'cpu') => collect(engine.generate(prompt, { maxTokens: 10, sampling, repetitionPenalty: 1.3, logitBias: { 7: 1 } }));
    expect((await greedy('gpu')).tokens).toEqual((await greedy('cpu')).tokens);
    const o = { maxTokens: 12, temperature: 1.2, topK: 50, topP: 0.95, frequencyPenalty: 0.5, seed: 5 };
    const gpu = await collect(engine.generate(prompt, { ...o, sampling: 'gpu' }));
    const cpu = await collect(engine.generate(prompt, { ...o, sampling: 'cpu' }));
    expect(gpu.tokens).toEqual(cpu.tokens);
    await expect(collect(engine.generate(prompt, { sampling: 'tpu' as 'gpu' }))).rejects.toThrow(/sampling must be 'gpu' or 'cpu', got "tpu"/);
  });

  it('text deltas add up to the decoded tokens; stops at maxTokens or a stop string', async () => {
    const long = await collect(engine.generate('Hello', { maxTokens: 10, temperature: 1, seed: 3 }));
    expect(long.chunks[long.chunks.length - 1].stats!.finishReason).toBe('length');
    expect(long.text).toBe(engine.tokenizer!.decode(long.tokens, { skipSpecialTokens: true }));
    const stop = long.text.slice(3, 5);
    const cut = await collect(engine.generate('Hello', { maxTokens: 10, temperature: 1, seed: 3, stop: [stop] }));
    expect(cut.text).toBe(long.text.slice(0, long.text.indexOf(stop)));
    expect(cut.chunks[cut.chunks.length - 1].stats!.finishReason).toBe('stop');
  });

  it('abort ends the stream with the reason and leaves the engine ready', async () => {
    const seen: GenerationChunk[] = [];
    const run = abortAfter(2, (signal) => engine.generate('Hi', { maxTokens: 20, signal }), new Error('stopped by user'), seen);
    await expect(run).rejects.toThrow('stopped by user');
    expect(seen.length).toBe(2);
    const a = await collect(engine.generate('Hi', { maxTokens: 4 }));
    const b = await collect(engine.generate('Hi', { maxTokens: 4 }));
    expect(a.tokens).toEqual(b.tokens);
  });

  it('traces routing per layer and token, and the expert load of the call', async () => {
    const { chunks } = await collect(engine.generate({ tokens: [0, 5, 9] }, { maxTokens: 3, trace: true, reuseCache: false }));
    const first = chunks[0].routing![0];
    expect(first.positions).toEqual([0, 1, 2]);
    expect(first.layers.map((l) => l.layer)).toEqual([0, 1]);
    for (const l of first.layers) {
      expect(l.ids.length).toBe(3);
      l.ids.forEach((ids) => {
        expect(ids.length).toBe(2);
        expect(new Set(ids).size).toBe(2);
      });
      l.weights.forEach((w) => expect(w[0] + w[1]).toBeCloseTo(1, 5)); // Mixtral renormalises
    }
    const stats = chunks[chunks.length - 1].stats!;
    const steps = chunks.filter((c) => c.routing).length;
    for (const { counts } of stats.expertLoad!) expect(counts.reduce((a, b) => a + b, 0)).toBe((3 + steps - 1) * 2);
  });

  it('OpenAI-style chat completions, streamed and not', async () => {
    const messages = [{ role: 'user', content: 'Hi there' }];
    const chunks = [];
    const stream = await engine.chat.completions.create({ messages, stream: true, stream_options: { include_usage: true }, max_tokens: 5, temperature: 0 });
    for await (const c of stream) chunks.push(c);
    expect(chunks[0].object).toBe('chat.completion.chunk');
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(chunks[chunks.length - 2].choices[0].finish_reason).toMatch(/stop|length/);
    const last = chunks[chunks.length - 1]; // include_usage: an extra chunk with no choices
    expect(last.choices).toEqual([]);
    expect(last.usage!.total_tokens).toBe(last.usage!.prompt_tokens + last.usage!.completion_tokens);
    const whole = await engine.chat.completions.create({ messages, max_tokens: 5, temperature: 0 });
    expect(whole.object).toBe('chat.completion');
    expect(whole.choices[0].message.content).toBe(chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''));
    expect(whole.usage.prompt_tokens).toBe(engine.tokenizer!.applyChatTemplate(messages).ids.length);
  });

  it('rejects bad prompts with named errors', async () => {
    await expect(collect(engine.generate({ tokens: [400] }))).rejects.toThrow(/token 0 is 400, outside the vocabulary 0…319/);
    await expect(collect(engine.generate({ tokens: new Array(70).fill(1) }))).rejects.toThrow(/70 tokens, the context holds 64/);
    await expect(collect(engine.generate('x', { maxTokens: 0 }))).rejects.toThrow(/maxTokens must be a positive integer/);
  });
});

describe('Engine on a sliding-window model', () => {
  it('generates past its ring as full recomputes do, and traces a long prompt run in pieces', async () => {
    const device = await testDevice();
    const engine = await Engine.load(device, nodeDirSource(modelDir('mixtral_sliding')), { contextLength: 64 }); // window 4: a ring of 8
    const prompt = [0, 17, 42, 99, 5, 8, 13, 21, 34, 55, 89, 144];
    const { tokens, chunks } = await collect(engine.generate({ tokens: prompt }, { maxTokens: 6, trace: true }));
    const seq = [...prompt];
    for (const token of tokens) {
      const rows = await engine.logits(seq);
      expect(token).toBe(argmax(rows[rows.length - 1]));
      seq.push(token);
    }
    // the prompt ran in pieces of 5: one routing step each, covering every position once
    const steps = chunks[0].routing!;
    expect(steps.map((s) => s.positions)).toEqual([[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11]]);
    for (const s of steps) for (const l of s.layers) expect(l.ids.length).toBe(s.positions.length);
    const routed = chunks.filter((c) => c.routing).length - 1 + prompt.length;
    for (const { counts } of chunks[chunks.length - 1].stats!.expertLoad!) expect(counts.reduce((a, b) => a + b, 0)).toBe(routed * 2);
    engine.dispose();
    device.destroy();
  });
});
