// The KV cache kept across calls: a call prefills only what follows the common prefix of the cached
// tokens and its prompt, and gives the greedy tokens a fresh engine (one that prefills the whole
// prompt) gives: over multi-turn chats, after an abort mid-turn, after an earlier message is edited,
// on a model whose sliding windows keep rings; and the context overflow policy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContextOverflowError, Engine, type GenerateOptions, type Prompt } from '../../src/api/engine.js';
import { nodeDirSource } from '../../src/io/nodeSource.js';
import type { ChatMessage } from '../../src/model/tokenizer.js';
import { abortAfter, collect } from '../helpers/generation.js';
import { testDevice } from '../helpers/gpu.js';
import { modelDir } from '../helpers/models.js';

describe('KV reuse across calls', () => {
  let device: GPUDevice;
  let engine: Engine;
  let fresh: Engine;
  beforeAll(async () => {
    device = await testDevice();
    engine = await Engine.load(device, nodeDirSource(modelDir('mixtral')), { contextLength: 256 });
    fresh = await Engine.load(device, nodeDirSource(modelDir('mixtral')), { contextLength: 256 });
  });
  afterAll(() => {
    engine?.dispose();
    fresh?.dispose();
    device?.destroy();
  });

  /** The reply of the engine that keeps its cache, checked against the fresh engine's; its stats. */
  async function turn(prompt: Prompt, o: GenerateOptions = {}) {
    const reply = await collect(engine.generate(prompt, { maxTokens: 6, ...o }));
    const expected = await collect(fresh.generate(prompt, { maxTokens: 6, ...o, reuseCache: false }));
    expect(reply.tokens).toEqual(expected.tokens);
    expect(expected.last.stats!.cachedTokens).toBe(0);
    return { ...reply, stats: reply.last.stats! };
  }

  const chat: ChatMessage[] = [{ role: 'system', content: 'You are terse.' }];
  const say = async (content: string, o?: GenerateOptions) => {
    chat.push({ role: 'user', content });
    const before = engine.encode(chat);
    const r = await turn(chat, o);
    chat.push({ role: 'assistant', content: r.text });
    return { ...r, promptTokens: before.length };
  };

  it('prefills only the new turn of a multi-turn chat, with the same greedy tokens', async () => {
    const first = await say('Hello there!');
    expect(first.stats.cachedTokens).toBe(0);
    let previous = first.promptTokens;
    for (const [i, content] of ['What is the weather like?', 'And tomorrow?', 'Thanks, bye.'].entries()) {
      const r = await say(content, i === 1 ? { sampling: 'cpu', repetitionPenalty: 1.2 } : {});
      // The earlier turns are not read again: at least the previous prompt is cached (the reply's text,
      // encoded again, may differ from the tokens generated).
      expect(r.stats.cachedTokens).toBeGreaterThanOrEqual(previous);
      expect(r.stats.cachedTokens).toBeLessThan(r.promptTokens);
      expect(r.stats.promptTokens).toBe(r.promptTokens);
      previous = r.promptTokens;
    }
    // The same prompt twice: all but its last token come from the cache the second time.
    await turn(chat);
    const again = await turn(chat);
    expect(again.stats.cachedTokens).toBe(engine.encode(chat).length - 1);
  });

  it('reuses across prompt forms: text that extends the previous text, and token ids', async () => {
    await turn('Once upon a time');
    const longer = await turn('Once upon a time, in a land far away');
    expect(longer.stats.cachedTokens).toBeGreaterThan(2);
    const ids = engine.encode('Once upon a time, in a land far away');
    const tokens = await turn({ tokens: [...ids, ...longer.tokens, 42, 7] });
    expect(tokens.stats.cachedTokens).toBe(ids.length + longer.tokens.length - 1);
  });

  it('after an abort mid-turn, the next call gives the tokens of a fresh engine', async () => {
    const messages: ChatMessage[] = [...chat, { role: 'user', content: 'Tell me a long story.' }];
    const seen: Parameters<typeof abortAfter>[3] = [];
    await expect(abortAfter(1, (signal) => engine.generate(messages, { maxTokens: 20, signal }), new Error('stopped'), seen)).rejects.toThrow('stopped');
    const prompt = engine.encode(messages).length;
    const retry = await turn(messages);
    expect(retry.stats.cachedTokens).toBe(prompt - 1);
    // The aborted reply as the assistant's message, then the next question.
    const partial = seen.map((c) => c.text).join('');
    const next = await turn([...messages, { role: 'assistant', content: partial }, { role: 'user', content: 'Go on.' }]);
    expect(next.stats.cachedTokens).toBeGreaterThan(prompt - 1);
  });

  it('after an earlier message is edited, only what precedes the edit is reused', async () => {
    await turn(chat);
    const edited = chat.map((m, i) => (i === 1 ? { ...m, content: 'Hello here!' } : m));
    const [a, b] = [engine.encode(chat), engine.encode(edited)];
    let shared = 0;
    while (a[shared] === b[shared]) shared++;
    expect(shared).toBeGreaterThan(5);
    const r = await turn(edited);
    expect(r.stats.cachedTokens).toBe(shared);
  });

  it('a prompt that leaves no room is a ContextOverflowError; sliding drops the oldest turns and keeps the system prompt', async () => {
    const small = await Engine.load(device, nodeDirSource(modelDir('mixtral')), { contextLength: 64 });
    try {
      const long: ChatMessage[] = [{ role: 'system', content: 'Be brief.' }];
      for (let i = 0; i < 6; i++) long.push({ role: 'user', content: `Question number ${i}?` }, { role: 'assistant', content: `Answer ${i}.` });
      long.push({ role: 'user', content: 'Last one?' });
      expect(small.encode(long).length).toBeGreaterThan(64);
      const refused = collect(small.generate(long, { maxTokens: 4 }));
      await expect(refused).rejects.toThrow(ContextOverflowError);
      await expect(collect(small.generate(long, { maxTokens: 4 }))).rejects.toThrow(
        /the prompt has \d+ tokens, the context holds 64: .*contextOverflow: 'slide'/,
      );
      const slid = await collect(small.generate(long, { maxTokens: 4, contextOverflow: 'slide' }));
      const dropped = slid.last.stats!.droppedMessages!;
      expect(dropped % 2).toBe(0);
      expect(dropped).toBeGreaterThan(0);
      const kept = [long[0], ...long.slice(1 + dropped)];
      expect(small.encode(kept).length).toBeLessThanOrEqual(60);
      expect(small.encode([long[0], ...long.slice(dropped - 1)]).length).toBeGreaterThan(60);
      expect(slid.tokens).toEqual((await collect(fresh.generate(kept, { maxTokens: 4, reuseCache: false }))).tokens);
      // Text or ids cannot slide.
      await expect(collect(small.generate({ tokens: new Array(70).fill(5) }, { contextOverflow: 'slide' }))).rejects.toThrow(ContextOverflowError);
      await expect(collect(small.generate('x', { contextOverflow: 'drop' as 'slide' }))).rejects.toThrow(
        /contextOverflow must be 'error' or 'slide', got "drop"/,
      );
      await expect(collect(small.generate('x', { reuseCache: 1 as unknown as boolean }))).rejects.toThrow(/reuseCache must be a boolean, got 1/);
    } finally {
      small.dispose();
    }
  });
});

describe('KV reuse with sliding windows', () => {
  it('continues over its rings as a fresh engine does, and re-prefills where a ring has lost the keys', async () => {
    const device = await testDevice();
    const load = () => Engine.load(device, nodeDirSource(modelDir('mixtral_sliding')), { contextLength: 64 }); // window 4, rings of 8
    const [engine, fresh] = [await load(), await load()];
    try {
      /** What the cache holds after a call: the prompt and the tokens generated but the last one picked (unless it was EOS). */
      let held: number[] = [];
      const run = async (tokens: number[]) => {
        const r = await collect(engine.generate({ tokens }, { maxTokens: 5 }));
        const e = await collect(fresh.generate({ tokens }, { maxTokens: 5, reuseCache: false }));
        expect(r.tokens).toEqual(e.tokens);
        const stats = r.last.stats!;
        held = [...tokens, ...(stats.finishReason === 'length' ? r.tokens.slice(0, -1) : r.tokens)];
        return { tokens: r.tokens, cached: stats.cachedTokens! };
      };
      let prompt = [3, 14, 15, 92, 65, 35, 89, 79, 32, 38];
      expect((await run(prompt)).cached).toBe(0);
      for (let i = 0; i < 3; i++) {
        const before = held.length;
        prompt = [...held, 26 + i, 43];
        expect((await run(prompt)).cached).toBe(before);
      }
      // An edit far back: the rings no longer hold what position 3 reads, so all is prefilled again.
      const edited = [...prompt];
      edited[3] = 7;
      expect((await run(edited)).cached).toBe(0);
      // An edit of the prompt's last token: the rings still hold the keys of the window before it.
      const late = [...edited];
      late[late.length - 1] = 9;
      expect((await run(late)).cached).toBe(late.length - 1);
    } finally {
      engine.dispose();
      fresh.dispose();
      device.destroy();
    }
  });
});
