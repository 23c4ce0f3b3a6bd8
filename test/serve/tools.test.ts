// `webmoe serve` with tools and JSON schemas, the openai client as the caller: on the mixtral fixture
// with a Hermes-style template (as Qwen3's) the tools and a conversation of calls and tool replies
// reach the template as the engine's own call gives them, and a json_schema reply parses and matches;
// on a stub engine, the tool_calls shapes as the client reads them, an error mid-stream, a disposed engine.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine, GenerateOptions, GenerationChunk, Prompt } from '../../src/api/engine.js';
import { EngineDisposedError } from '../../src/api/errors.js';
import { type ChatCompletionRequest, ChatCompletions } from '../../src/api/openai.js';
import type { ChatTool } from '../../src/model/tokenizer.js';
import '../../src/platform/nodeXGrammar.js';
import { type RunningServer, serve, type ServeEngine } from '../../src/serve/server.js';
import { suiteEngine } from '../helpers/engine.js';
import { hermesSource } from '../helpers/hermes.js';
import { schemaProblems } from '../helpers/jsonSchema.js';
import { modelDir } from '../helpers/models.js';

const TOOLS: ChatTool[] = [{
  type: 'function',
  function: { name: 'get_weather', description: 'Current weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
}];

/** A server on `engine` and an openai client of it, for a suite. */
function suiteServer(engine: () => ServeEngine): () => { client: OpenAI; server: RunningServer } {
  let server: RunningServer;
  let client: OpenAI;
  beforeAll(async () => {
    server = await serve(engine(), { port: 0 });
    client = new OpenAI({ apiKey: 'unused', baseURL: `${server.url}/v1`, maxRetries: 0 });
  });
  afterAll(() => server?.close());
  return () => ({ client, server });
}

describe('tools and JSON schema through the server (mixtral fixture, a Hermes-style template)', () => {
  let engine: Engine;
  const engineOf = suiteEngine(hermesSource(modelDir('mixtral')), { contextLength: 512 });
  const served = suiteServer(() => (engine = engineOf()));

  it('tools and a conversation of calls and tool replies: the prompt and reply of the engine\'s own call', async () => {
    const messages: ChatCompletionRequest['messages'] = [
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temp": 21}' },
    ];
    const request = { messages, tools: TOOLS, max_tokens: 4, temperature: 0 };
    const own = await engine.chat.completions.create(request);
    const reply = await served().client.chat.completions.create({ model: engine.model, ...request } as never);
    expect(reply.usage!.prompt_tokens).toBe(own.usage.prompt_tokens);
    expect(reply.choices[0].message.content).toBe(own.choices[0].message.content);
    const none = await served().client.chat.completions.create({ model: engine.model, ...request, tool_choice: 'none' } as never);
    expect(none.usage!.prompt_tokens).toBeLessThan(own.usage.prompt_tokens); // the template not told of the tools
  });

  it('response_format json_schema: the reply parses and matches, as the engine\'s own', async () => {
    const schema = { type: 'object', properties: { city: { enum: ['Bath', 'Lyme'] }, rooms: { type: 'integer', minimum: 1, maximum: 9 } },
      required: ['city', 'rooms'], additionalProperties: false };
    const request = { messages: [{ role: 'user', content: 'A house as JSON.' }], max_tokens: 60, temperature: 0,
      response_format: { type: 'json_schema' as const, json_schema: { name: 'house', schema, strict: true } } };
    const own = await engine.chat.completions.create(request);
    const reply = await served().client.chat.completions.create({ model: engine.model, ...request } as never);
    const text = reply.choices[0].message.content!;
    expect(schemaProblems(JSON.parse(text), schema)).toEqual([]);
    expect(text).toBe(own.choices[0].message.content);
  });
});

/** An engine whose every call yields `chunks` (then throws `fail`, if given). */
function stub(chunks: GenerationChunk[], fail?: Error): ServeEngine & { disposed: boolean } {
  const base = {
    model: 'stub',
    disposed: false,
    contextLength: 64,
    async *generate(_p: Prompt, _o?: GenerateOptions): AsyncGenerator<GenerationChunk> {
      yield* chunks;
      if (fail) throw fail;
    },
  };
  return Object.assign(base, { chat: { completions: new ChatCompletions(base) } }) as ServeEngine & { disposed: boolean };
}

const stats = { promptTokens: 5, completionTokens: 9, prefillTokensPerSecond: 1, decodeTokensPerSecond: 1, timeToFirstTokenMs: 1 };
const ask = [{ role: 'user' as const, content: 'Hi' }];

describe('the OpenAI shapes through the server (a stub engine)', () => {
  const calls = [{ name: 'get_weather', arguments: '{"city":"Paris"}' }, { name: 'get_time', arguments: '{}' }];
  const served = suiteServer(() => stub([{ text: '', tokens: [], toolCalls: calls, stats: { ...stats, finishReason: 'tool_calls' } }]));

  it('tool calls: the client reads tool_calls, content null, finish_reason tool_calls; streamed, with their index', async () => {
    const { client } = served();
    const reply = await client.chat.completions.create({ model: 'stub', messages: ask, tools: TOOLS as never });
    expect(reply.choices[0].finish_reason).toBe('tool_calls');
    expect(reply.choices[0].message.content).toBeNull();
    expect(reply.choices[0].message.tool_calls!.map((c) => c.type === 'function' && c.function)).toEqual(calls);
    const chunks = [];
    for await (const c of await client.chat.completions.create({ model: 'stub', messages: ask, tools: TOOLS as never, stream: true })) chunks.push(c);
    expect(chunks.at(-1)!.choices[0].delta.tool_calls!.map((c) => [c.index, c.function!.name])).toEqual([[0, 'get_weather'], [1, 'get_time']]);
  });

  it('an error mid-stream: an SSE error event, which the client raises; a disposed engine: 503', async () => {
    const failing = stub([{ text: 'Once', tokens: [7] }], new Error('webmoe: the shard worker died'));
    const server = await serve(failing, { port: 0 });
    try {
      const client = new OpenAI({ apiKey: 'unused', baseURL: `${server.url}/v1`, maxRetries: 0 });
      const seen: string[] = [];
      await expect((async () => {
        for await (const c of await client.chat.completions.create({ model: 'stub', messages: ask, stream: true })) seen.push(c.choices[0].delta.content!);
      })()).rejects.toThrow('webmoe: the shard worker died');
      expect(seen).toEqual(['Once']);
      // Before any output, the status: 500 for this one.
      await expect(client.chat.completions.create({ model: 'stub', messages: ask })).rejects.toMatchObject({ status: 500,
        message: '500 webmoe: the shard worker died' });

      const gone = stub([], new EngineDisposedError());
      const down = await serve(gone, { port: 0 });
      try {
        const c = new OpenAI({ apiKey: 'unused', baseURL: `${down.url}/v1`, maxRetries: 0 });
        await expect(c.chat.completions.create({ model: 'stub', messages: ask, stream: true })).rejects.toMatchObject({ status: 503,
          code: 'engine_unavailable' });
        gone.disposed = true;
        await expect(c.completions.create({ model: 'stub', prompt: 'Hi' })).rejects.toMatchObject({ status: 503 });
        expect((await fetch(`${down.url}/health`)).status).toBe(503);
      } finally {
        await down.close();
      }
    } finally {
      await server.close();
    }
  });
});
