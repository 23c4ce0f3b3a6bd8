// The OpenAI / WebLLM surface on the mixtral fixture: every request field honoured (usage, n,
// logprobs, logit bias, penalties, max_completion_tokens, content parts) or refused by name, the
// WebLLM calls, and the reply objects typed as the `openai` package's (checked by tsc).
import type { ChatCompletion as OpenAIChatCompletion, ChatCompletionChunk as OpenAIChatCompletionChunk } from 'openai/resources/chat/completions';
import { beforeAll, describe, expect, it } from 'vitest';
import { Engine, EngineOptionError } from '../../src/api/engine.js';
import type { ChatCompletionRequest } from '../../src/api/openai.js';
import { collect } from '../helpers/generation.js';
import { suiteEngine } from '../helpers/engine.js';
import { modelDir } from '../helpers/models.js';

const messages = [{ role: 'user', content: 'Hi there' }];

/** log-softmax of a row in float64 */
const logSoftmax = (row: Float32Array) => {
  const max = Math.max(...row);
  const z = Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0)) + max;
  return Array.from(row, (x) => x - z);
};

describe('chat.completions: the OpenAI surface', () => {
  const engineOf = suiteEngine(modelDir('mixtral'), { contextLength: 64 });
  let engine: Engine;
  beforeAll(() => (engine = engineOf()));

  it('replies and chunks are the openai package\'s ChatCompletion and ChatCompletionChunk', async () => {
    const reply: OpenAIChatCompletion = await engine.chat.completions.create({ messages, max_tokens: 4, temperature: 0, logprobs: true, top_logprobs: 2 });
    const chunks: OpenAIChatCompletionChunk[] = [];
    const stream = await engine.chat.completions.create({ messages, max_tokens: 4, temperature: 0, stream: true, stream_options: { include_usage: true } });
    for await (const c of stream) chunks.push(c);
    expect(reply.choices[0].message.refusal).toBeNull();
    expect(reply.choices[0].logprobs!.content!.length).toBe(reply.usage!.completion_tokens);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(reply.choices[0].message.content);
  });

  it('stream_options.include_usage: usage null on every chunk, then a chunk with no choices and the usage', async () => {
    const chunks = [];
    for await (const c of await engine.chat.completions.create({ messages, max_tokens: 5, temperature: 0, stream: true,
      stream_options: { include_usage: true } })) chunks.push(c);
    const last = chunks.pop()!;
    expect(last.choices).toEqual([]);
    expect(last.usage!.prompt_tokens).toBe(engine.encode(messages).length);
    expect(chunks.every((c) => c.usage === null)).toBe(true);
    expect(last.usage!.completion_tokens).toBe(chunks.length - 1); // a chunk per token, then the ending one
    const plain = [];
    for await (const c of await engine.chat.completions.create({ messages, max_tokens: 5, temperature: 0, stream: true })) plain.push(c);
    expect(plain.every((c) => !('usage' in c) && c.choices.length === 1)).toBe(true);
  });

  it('n choices: one call each, greedy ones equal, seeded ones stepping the seed; usage counts the prompt once', async () => {
    const greedy = await engine.chat.completions.create({ messages, max_tokens: 4, temperature: 0, n: 2 });
    expect(greedy.choices.map((c) => c.index)).toEqual([0, 1]);
    expect(greedy.choices[1].message.content).toBe(greedy.choices[0].message.content);
    const sampled = await engine.chat.completions.create({ messages, max_tokens: 6, temperature: 1, seed: 5, n: 3 });
    const single = await Promise.all([5, 6, 7].map((seed) => engine.chat.completions.create({ messages, max_tokens: 6, temperature: 1, seed })));
    expect(sampled.choices.map((c) => c.message.content)).toEqual(single.map((r) => r.choices[0].message.content));
    expect(sampled.usage.prompt_tokens).toBe(single[0].usage.prompt_tokens);
    expect(sampled.usage.completion_tokens).toBe(single.reduce((s, r) => s + r.usage.completion_tokens, 0));
  });

  it('logprobs and top_logprobs are the log-softmax of the model\'s logits at each step', async () => {
    const reply = await engine.chat.completions.create({ messages, max_tokens: 4, temperature: 0, logprobs: true, top_logprobs: 3 });
    const { tokens } = await collect(engine.generate(messages, { maxTokens: 4 }));
    const seq = engine.encode(messages);
    const content = reply.choices[0].logprobs!.content!;
    expect(content.length).toBe(tokens.length);
    for (const [i, step] of content.entries()) {
      const rows = await engine.logits([...seq, ...tokens.slice(0, i)]);
      const ref = logSoftmax(rows[rows.length - 1]);
      const order = ref.map((_, t) => t).sort((a, b) => ref[b] - ref[a] || a - b);
      expect(step.token).toBe(engine.tokenizer!.decode([tokens[i]]));
      expect(step.logprob).toBeCloseTo(ref[tokens[i]], 4);
      expect(step.bytes).toEqual([...new TextEncoder().encode(step.token)]);
      expect(step.top_logprobs.map((t) => t.token)).toEqual(order.slice(0, 3).map((t) => engine.tokenizer!.decode([t])));
      step.top_logprobs.forEach((t, k) => expect(t.logprob).toBeCloseTo(ref[order[k]], 4));
    }
  });

  it('logit_bias, frequency_penalty and presence_penalty reach the sampler', async () => {
    const forced = await engine.chat.completions.create({ messages, max_tokens: 5, temperature: 0, logit_bias: { 70: 100 } });
    const { tokens } = await collect(engine.generate(messages, { maxTokens: 5, logitBias: { 70: 100 } }));
    expect(tokens).toEqual([70, 70, 70, 70, 70]);
    expect(forced.choices[0].message.content).toBe(engine.tokenizer!.decode(tokens, { skipSpecialTokens: true }));
    // A frequency penalty of 2 against +3 of bias: token 70 cannot win every step.
    const { tokens: penalised } = await collect(engine.generate(messages, { maxTokens: 5, logitBias: { 70: 3 }, frequencyPenalty: 2 }));
    expect(penalised.filter((t) => t === 70).length).toBeLessThan(5);
    const viaApi = await engine.chat.completions.create({ messages, max_tokens: 5, temperature: 0, logit_bias: { 70: 3 }, frequency_penalty: 2 });
    expect(viaApi.choices[0].message.content).toBe(engine.tokenizer!.decode(penalised, { skipSpecialTokens: true }));
    const presence = await engine.chat.completions.create({ messages, max_tokens: 5, temperature: 0, logit_bias: { 70: 3 }, presence_penalty: 2 });
    const { tokens: present } = await collect(engine.generate(messages, { maxTokens: 5, logitBias: { 70: 3 }, presencePenalty: 2 }));
    expect(presence.choices[0].message.content).toBe(engine.tokenizer!.decode(present, { skipSpecialTokens: true }));
  });

  it('max_completion_tokens as max_tokens; seed, stop', async () => {
    const a = await engine.chat.completions.create({ messages, max_completion_tokens: 3, temperature: 0 });
    const b = await engine.chat.completions.create({ messages, max_tokens: 3, temperature: 0 });
    expect(a.usage.completion_tokens).toBeLessThanOrEqual(3);
    expect(a.choices[0].message.content).toBe(b.choices[0].message.content);
    const seeded = () => engine.chat.completions.create({ messages, max_tokens: 6, temperature: 1, seed: 9 });
    expect((await seeded()).choices[0].message.content).toBe((await seeded()).choices[0].message.content);
  });

  it('content-part arrays: text parts joined by newlines; other parts refused by name', async () => {
    const parts = await engine.chat.completions.create({
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }, { type: 'text', text: 'there' }] }],
      max_tokens: 4,
      temperature: 0,
    });
    const joined = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Hi\nthere' }], max_tokens: 4, temperature: 0 });
    expect(parts.choices[0].message.content).toBe(joined.choices[0].message.content);
    expect(parts.usage.prompt_tokens).toBe(joined.usage.prompt_tokens);
    await expect(engine.chat.completions.create({
      messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: 'data:,' } }] }],
    })).rejects.toThrow('webmoe: messages[0].content[1] is a "image_url" part: webmoe takes text parts only');
  });

  it('refuses, by name, every field it does not honour, before any work', async () => {
    const refused: [Record<string, unknown>, string][] = [
      [{ audio: { voice: 'alloy', format: 'wav' } }, 'webmoe: audio is not supported: webmoe generates text only'],
      [{ functions: [] }, 'webmoe: functions is deprecated: use tools'],
      [{ store: true }, 'webmoe: store is not supported'],
      [{ user: 'u1' }, 'webmoe: user is not supported'],
      [{ service_tier: 'flex' }, 'webmoe: service_tier is not supported'],
      [{ frobnicate: 1 }, 'webmoe: frobnicate is not a chat completion field webmoe knows'],
      [{ model: 'gpt-4o' }, 'webmoe: model is "gpt-4o", but this engine runs'],
      [{ n: 0 }, 'webmoe: n must be a positive integer, got 0'],
      [{ max_tokens: 3, max_completion_tokens: 3 }, 'webmoe: max_tokens and max_completion_tokens are both given'],
      [{ max_completion_tokens: 1.5 }, 'webmoe: max_completion_tokens must be a positive integer, got 1.5'],
      [{ top_logprobs: 2 }, 'webmoe: top_logprobs needs logprobs: true'],
      [{ logprobs: true, top_logprobs: 21 }, 'webmoe: top_logprobs must be an integer in 0…20, got 21'],
      [{ logit_bias: { abc: 1 } }, 'webmoe: logit_bias keys must be token ids, got "abc"'],
      [{ logit_bias: { 5: 101 } }, 'webmoe: logit_bias[5] must be a number in [-100, 100], got 101'],
      [{ frequency_penalty: 3 }, 'webmoe: frequency_penalty must be a number in [-2, 2], got 3'],
      [{ presence_penalty: -2.5 }, 'webmoe: presence_penalty must be a number in [-2, 2], got -2.5'],
      [{ temperature: 3 }, 'webmoe: temperature must be a number in [0, 2], got 3'],
      [{ seed: 1.5 }, 'webmoe: seed must be an integer, got 1.5'],
      [{ top_p: 0 }, 'webmoe: top_p must be a number in (0, 1], got 0'],
      [{ repetition_penalty: -1 }, 'webmoe: repetition_penalty must be a finite number > 0, got -1'],
      [{ stream_options: { include_usage: true } }, 'webmoe: stream_options needs stream: true'],
      [{ stream: true, stream_options: { include_obfuscation: true } }, 'webmoe: stream_options.include_obfuscation is not supported'],
      [{ messages: [{ role: 'user', content: 'x', audio: {} }] }, 'webmoe: messages[0].audio is not supported'],
      [{ messages: [{ role: 'function', content: 'x' }] }, 'webmoe: messages[0].role must be one of system, developer, user, assistant, tool, got "function"'],
      [{ messages: [{ role: 'tool', content: 'x' }] }, 'webmoe: messages[0].tool_call_id is needed in a tool message'],
      [{ messages: [] }, 'webmoe: messages must be a non-empty list'],
    ];
    for (const [fields, message] of refused) {
      const request = { messages, ...fields } as unknown as ChatCompletionRequest;
      const error = await engine.chat.completions.create(request).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EngineOptionError);
      expect((error as Error).message).toContain(message);
      if (!('stream_options' in fields)) await expect(engine.chat.completions.create({ ...request, stream: true })).rejects.toThrow(EngineOptionError);
    }
    // null is the default, as in OpenAI's API
    const nulls = await engine.chat.completions.create(
      { messages, max_tokens: 2, temperature: null, top_p: null, user: null, n: null } as ChatCompletionRequest & { stream?: null },
    );
    expect(nulls.choices.length).toBe(1);
  });

  it('WebLLM calls: interruptGenerate ends the stream as stopped, getMessage, runtimeStatsText, resetChat', async () => {
    let seen = 0;
    let content = '';
    let finish: string | null = null;
    const forced = { 70: 100 }; // never an EOS
    for await (const c of await engine.chat.completions.create({ messages, max_tokens: 30, temperature: 0, logit_bias: forced, stream: true })) {
      content += c.choices[0].delta.content ?? '';
      finish = c.choices[0].finish_reason;
      if (++seen === 3) engine.interruptGenerate();
    }
    expect(seen).toBe(4); // three tokens, then the ending chunk
    expect(finish).toBe('stop');
    expect(await engine.getMessage()).toBe(content);
    expect(await engine.runtimeStatsText()).toMatch(/^prefill: \d+\.\d tokens\/sec, decoding: \d+\.\d tokens\/sec$/);
    const { last } = await collect((async function*() {
      const it = engine.generate(messages, { maxTokens: 30, logitBias: forced });
      for await (const c of it) {
        yield c;
        engine.interruptGenerate();
      }
    })());
    expect(last.stats!.finishReason).toBe('abort');
    expect(last.stats!.completionTokens).toBe(1);
    await engine.resetChat();
    expect(await engine.getMessage()).toBe('');
    expect(await engine.runtimeStatsText()).toBe('prefill: 0.0 tokens/sec, decoding: 0.0 tokens/sec');
    const again = await engine.chat.completions.create({ messages, max_tokens: 4, temperature: 0 });
    expect(await engine.getMessage()).toBe(again.choices[0].message.content);
  });
});
