// `webmoe serve` on the bundled model, over real HTTP on port 0, with the official `openai` client as
// the caller: whole and streamed chat and text completions equal to the engine's own greedy output,
// /v1/models and /health, each error's status and OpenAI body, the 429 of a full queue, a stream
// aborted by disconnect (the generation stops; the engine stays usable) and concurrent requests.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine, GenerateOptions, Prompt } from '../../src/api/engine.js';
import { ChatCompletions } from '../../src/api/openai.js';
import { bundledModelDir } from '../../src/node.js';
import { type RunningServer, serve, type ServeEngine } from '../../src/serve/server.js';
import { suiteEngine } from '../helpers/engine.js';
import { collect } from '../helpers/generation.js';

const ask = (content: string) => [{ role: 'user' as const, content }];

describe('webmoe serve', () => {
  const engineOf = suiteEngine(bundledModelDir, { contextLength: 128 });
  let engine: Engine;
  let server: RunningServer;
  let client: OpenAI;
  /** Tokens each generate() call of the served engine yielded, and how it ended. */
  const calls: { tokens: number; ended: 'done' | 'threw' | 'running' }[] = [];
  // The engine behind a spy: every generate() call counted (chat completions run through it too).
  let spy: ServeEngine;

  beforeAll(async () => {
    engine = engineOf();
    const base = {
      get model() {
        return engine.model;
      },
      get disposed() {
        return engine.disposed;
      },
      get contextLength() {
        return engine.contextLength;
      },
      async *generate(prompt: Prompt, o?: GenerateOptions) {
        const call = { tokens: 0, ended: 'running' as 'done' | 'threw' | 'running' };
        calls.push(call);
        try {
          for await (const c of engine.generate(prompt, o)) {
            call.tokens += c.tokens.length;
            yield c;
          }
          call.ended = 'done';
        } catch (e) {
          call.ended = 'threw';
          throw e;
        }
      },
    };
    spy = Object.assign(base, { chat: { completions: new ChatCompletions(base) } }) as ServeEngine;
    server = await serve(spy, { port: 0, maxSequences: 1, maxQueue: 4 });
    client = new OpenAI({ apiKey: 'unused', baseURL: `${server.url}/v1`, maxRetries: 0 });
  });
  afterAll(() => server?.close());

  it('listens on 127.0.0.1 by default; /v1/models lists the one model; /health says ok', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const models = await client.models.list();
    expect(models.data.map((m) => [m.id, m.object])).toEqual([[engine.model, 'model']]);
    const health = await (await fetch(`${server.url}/health`)).json();
    expect(health).toMatchObject({ status: 'ok', model: engine.model, context_length: 128, in_flight: 0, max_in_flight: 5 });
  });

  it('chat completions, whole and streamed: the engine\'s own greedy reply', async () => {
    const request = { messages: ask('Who is Mr. Darcy?'), max_tokens: 16, temperature: 0 };
    const own = await engine.chat.completions.create(request);
    const reply = await client.chat.completions.create({ model: engine.model, ...request });
    expect(reply.object).toBe('chat.completion');
    expect(reply.choices[0].message.content).toBe(own.choices[0].message.content);
    expect(reply.choices[0].message.content!.length).toBeGreaterThan(0);
    expect(reply.choices[0].finish_reason).toBe(own.choices[0].finish_reason);
    expect(reply.usage).toMatchObject({ prompt_tokens: own.usage.prompt_tokens, completion_tokens: own.usage.completion_tokens });

    const stream = await client.chat.completions.create({ model: engine.model, ...request, stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(own.choices[0].message.content);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(chunks.at(-2)!.choices[0].finish_reason).toBe(own.choices[0].finish_reason);
    expect(chunks.at(-1)!.usage!.completion_tokens).toBe(own.usage.completion_tokens);
  });

  it('text completions, whole and streamed: the engine\'s greedy continuation of the plain prompt', async () => {
    const prompt = 'It is a truth universally acknowledged';
    const own = await collect(engine.generate(prompt, { maxTokens: 12, temperature: 0 }));
    const reply = await client.completions.create({ model: engine.model, prompt, max_tokens: 12, temperature: 0 });
    expect(reply.object).toBe('text_completion');
    expect(reply.choices.map((c) => [c.index, c.text, c.finish_reason])).toEqual([[0, own.text,
      own.last.stats!.finishReason === 'length' ? 'length' : 'stop']]);
    expect(reply.usage).toMatchObject({ prompt_tokens: own.last.stats!.promptTokens, completion_tokens: own.last.stats!.completionTokens });
    const stream = await client.completions.create({ model: engine.model, prompt: [prompt], max_tokens: 12, temperature: 0, stream: true });
    let text = '';
    for await (const c of stream) text += c.choices[0].text;
    expect(text).toBe(own.text);
    // OpenAI's default max_tokens for text completions: 16.
    expect((await client.completions.create({ model: engine.model, prompt, temperature: 0, logit_bias: { 1: -100 } })).usage!.completion_tokens).toBe(16);
    // n: one call each.
    const two = await client.completions.create({ model: engine.model, prompt, max_tokens: 3, temperature: 0, n: 2 });
    expect(two.choices.map((c) => c.index)).toEqual([0, 1]);
    expect(two.choices[1].text).toBe(two.choices[0].text);
  });

  it('errors: OpenAI\'s body and status for each, named', async () => {
    const post = (path: string, body: string, headers: Record<string, string> = {}) =>
      fetch(`${server.url}${path}`, { method: 'POST', body, headers: { 'Content-Type': 'application/json', ...headers } });
    const bad = await post('/v1/chat/completions', '{"messages": [');
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toMatchObject({ type: 'invalid_request_error', message: expect.stringContaining('not JSON') });
    expect((await post('/v1/completions', '[1]')).status).toBe(400);
    expect((await (await post('/v1/chat/completions', '{"messages": [], "stream": "yes"}')).json()).error.param).toBe('stream');

    const refused = async (f: () => Promise<unknown>) => {
      try {
        await f();
      } catch (e) {
        return e as InstanceType<typeof OpenAI.APIError>;
      }
      throw new Error('the request was not refused');
    };
    const unknown = await refused(() => client.chat.completions.create({ model: engine.model, messages: ask('Hi'), frobnicate: 1 } as never));
    expect([unknown.status, unknown.param, unknown.message]).toEqual([400, 'frobnicate', '400 webmoe: frobnicate is not a chat completion field webmoe knows']);
    const echo = await refused(() => client.completions.create({ model: engine.model, prompt: 'Hi', echo: true }));
    expect([echo.status, echo.param]).toEqual([400, 'echo']);
    const twoPrompts = await refused(() => client.completions.create({ model: engine.model, prompt: ['a', 'b'] }));
    expect([twoPrompts.status, twoPrompts.param, twoPrompts.message]).toEqual([400, 'prompt',
      '400 webmoe: prompt must be a string or a list of one string (one prompt a request), got a list of 2 items']);
    const tokens = await refused(() => client.completions.create({ model: engine.model, prompt: [5, 6] }));
    expect(tokens.message).toContain('got a list of 2 items');
    const range = await refused(() => client.chat.completions.create({ model: engine.model, messages: ask('Hi'), temperature: 3 }));
    expect([range.status, range.param]).toEqual([400, 'temperature']);
    const model = await refused(() => client.chat.completions.create({ model: 'gpt-4o', messages: ask('Hi') }));
    expect(model).toBeInstanceOf(OpenAI.NotFoundError);
    expect([model.code, model.param]).toEqual(['model_not_found', 'model']);
    const long = await refused(() => client.chat.completions.create({ model: engine.model, messages: ask('Elizabeth '.repeat(200)), stream: true }));
    expect([long.status, long.code]).toEqual([400, 'context_length_exceeded']);
    expect(long.message).toContain('the context holds 128');
    const route = await fetch(`${server.url}/v1/embeddings`, { method: 'POST', body: '{}' });
    expect(route.status).toBe(404);
    expect((await route.json()).error).toMatchObject({ code: 'unknown_url', message: expect.stringContaining('POST /v1/embeddings') });
    expect((await fetch(`${server.url}/v1/chat/completions`)).status).toBe(404); // GET

    const small = await serve(spy, { port: 0, maxBodyBytes: 1000 });
    try {
      const big = await fetch(`${small.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ messages: ask('x'.repeat(2000)) }) });
      expect(big.status).toBe(413);
      expect((await big.json()).error.code).toBe('request_too_large');
      // Chunked, with no length: refused once past the limit, the 413 still delivered.
      const pieces = new ReadableStream({ start(c) {
        c.enqueue(new TextEncoder().encode(`{"messages": [{"role": "user", "content": "${'x'.repeat(3000)}`));
        c.close();
      } });
      const chunked = await fetch(`${small.url}/v1/chat/completions`, { method: 'POST', body: pieces, duplex: 'half' } as RequestInit);
      expect(chunked.status).toBe(413);
    } finally {
      await small.close();
    }
  });

  it('an API key: missing or wrong gets 401; the right one passes; /health needs none', async () => {
    const keyed = await serve(spy, { port: 0, apiKey: 'sk-local-secret' });
    try {
      const as = (apiKey: string) => new OpenAI({ apiKey, baseURL: `${keyed.url}/v1`, maxRetries: 0 });
      await expect(as('sk-local-secreT').models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
      await expect(as('sk').models.list()).rejects.toMatchObject({ status: 401, code: 'invalid_api_key' });
      expect((await fetch(`${keyed.url}/v1/models`)).status).toBe(401);
      expect((await as('sk-local-secret').models.list()).data[0].id).toBe(engine.model);
      expect((await fetch(`${keyed.url}/health`)).status).toBe(200);
    } finally {
      await keyed.close();
    }
  });

  // Long generations: EOS (id 1) biased away, so each runs its max_tokens unless stopped.
  const long = { model: '', messages: ask('Tell me about Emma.'), max_tokens: 120, temperature: 0, logit_bias: { 1: -100 } };

  it('a client that disconnects aborts its generation; the next request runs at once and is correct', async () => {
    const next = { messages: ask('Who is Jane Bennet?'), max_tokens: 8, temperature: 0 };
    const expected = (await engine.chat.completions.create(next)).choices[0].message.content;
    const controller = new AbortController();
    const stream = await client.chat.completions.create({ ...long, model: engine.model, stream: true }, { signal: controller.signal });
    let seen = 0;
    // The client ends its stream quietly on abort.
    for await (const _ of stream) if (++seen === 3) controller.abort();
    expect(seen).toBe(3);
    const aborted = calls.at(-1)!;
    const reply = await client.chat.completions.create({ model: engine.model, ...next });
    expect(reply.choices[0].message.content).toBe(expected);
    // The aborted call ended (threw) well before its 120 tokens, before the next one ran.
    expect(aborted.ended).toBe('threw');
    expect(aborted.tokens).toBeLessThan(60);
    expect(calls.at(-1)!.ended).toBe('done');
  });

  it('a full queue: the request past maxSequences + maxQueue gets 429 at once, with Retry-After', async () => {
    const one = await serve(spy, { port: 0, maxSequences: 1, maxQueue: 0 });
    const c = new OpenAI({ apiKey: 'unused', baseURL: `${one.url}/v1`, maxRetries: 0 });
    const controller = new AbortController();
    try {
      const busy = await c.chat.completions.create({ ...long, model: engine.model, stream: true }, { signal: controller.signal });
      const it = busy[Symbol.asyncIterator]();
      await it.next(); // in flight
      const full = await fetch(`${one.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ messages: ask('Hi') }) });
      expect(full.status).toBe(429);
      expect(full.headers.get('retry-after')).toBe('1');
      expect((await full.json()).error).toMatchObject({ type: 'rate_limit_exceeded', message: expect.stringContaining('1 requests are in flight') });
      await expect(c.models.list()).resolves.toBeDefined(); // only generations count
      controller.abort();
      await it.return!().catch(() => {});
    } finally {
      await one.close();
    }
    // Once the first is gone, the engine takes requests again.
    expect((await client.chat.completions.create({ model: engine.model, messages: ask('Hi'), max_tokens: 2 })).choices[0].message.content).toBeTypeOf('string');
  });

  it('concurrent requests all complete, each equal to its sequential result', async () => {
    const names = ['Tell me about Emma.', 'What is the weather in Bath?', 'Write to your sister.', 'Who will marry Mr. Knightley?'];
    const request = (content: string) => ({ model: engine.model, messages: ask(content), max_tokens: 12, temperature: 0 });
    const sequential = [];
    for (const name of names) sequential.push((await client.chat.completions.create(request(name))).choices[0].message.content);
    const together = await Promise.all(names.map(async (name, i) => {
      if (i % 2) return (await client.chat.completions.create(request(name))).choices[0].message.content;
      let text = '';
      for await (const c of await client.chat.completions.create({ ...request(name), stream: true })) text += c.choices[0]?.delta.content ?? '';
      return text;
    }));
    expect(together).toEqual(sequential);
    expect(new Set(sequential).size, sequential.join(' | ')).toBe(names.length);
  });

  it('close(): aborts what is in flight, then the engine is still usable', async () => {
    const s = await serve(spy, { port: 0 });
    const c = new OpenAI({ apiKey: 'unused', baseURL: `${s.url}/v1`, maxRetries: 0 });
    const stream = await c.chat.completions.create({ ...long, model: engine.model, stream: true });
    const it = stream[Symbol.asyncIterator]();
    await it.next();
    await s.close();
    await expect((async () => {
      for (let r = await it.next(); !r.done; r = await it.next());
    })()).rejects.toThrow();
    expect(calls.at(-1)!.ended).toBe('threw');
    expect((await engine.chat.completions.create({ messages: ask('Hi'), max_tokens: 2 })).choices[0].message.content).toBeTypeOf('string');
  });
});
