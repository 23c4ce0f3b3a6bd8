// The engine in a worker_threads worker (the Node flavour of createWorkerEngine): the same greedy
// tokens and logits as the in-thread engine on the mixtral fixture, load progress, abort mid-stream,
// the OpenAI surface, concurrent calls (two sequences), and workers that fail: a load error, a
// script that throws, a worker that dies mid-stream — each a clear error, none a hang.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, EngineDisposedError, type GenerationChunk } from '../../../src/api/engine.js';
import { nodeDirSource } from '../../../src/io/nodeSource.js';
import '../../../src/platform/nodeWorkers.js';
import '../../../src/platform/nodeXGrammar.js';
import { createWorkerEngine, type WorkerEngine } from '../../../src/api/worker/workerEngine.js';
import { abortAfter, collect } from '../../helpers/generation.js';
import { testDevice } from '../../helpers/gpu.js';
import { modelDir } from '../../helpers/models.js';
import { buildWorkers } from '../../helpers/workers.js';

describe('createWorkerEngine (Node, worker_threads)', () => {
  let dir: string;
  let device: GPUDevice;
  let local: Engine;
  let remote: WorkerEngine;
  const progress: number[] = [];

  beforeAll(async () => {
    dir = await buildWorkers();
    device = await testDevice();
    local = await Engine.load(device, nodeDirSource(modelDir('mixtral')), { contextLength: 64 });
    remote = await createWorkerEngine(modelDir('mixtral'), {
      contextLength: 64,
      maxSequences: 2,
      onProgress: (p) => progress.push(p.loadedBytes / p.totalBytes),
    });
  });
  afterAll(() => {
    remote?.dispose();
    local?.dispose();
    device?.destroy();
  });

  it('loads with progress and generates the in-thread engine\'s greedy tokens, text and logits', async () => {
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[progress.length - 1]).toBe(1);
    expect(remote.config).toEqual(local.config);
    expect(remote.contextLength).toBe(64);
    const prompt = { tokens: [0, 17, 42, 99, 5] };
    const a = await collect(remote.generate(prompt, { maxTokens: 8 }));
    const b = await collect(local.generate(prompt, { maxTokens: 8 }));
    expect(a.tokens).toEqual(b.tokens);
    expect(a.text).toBe(b.text);
    expect(a.last.stats!.completionTokens).toBe(b.last.stats!.completionTokens);
    expect(a.last.stats!.decodeTokensPerSecond).toBeGreaterThan(0);
    expect(await remote.logits(prompt.tokens)).toEqual(await local.logits(prompt.tokens));
    expect(await remote.encode('Hello')).toEqual(local.encode('Hello'));
    const seeded = { maxTokens: 10, temperature: 1, seed: 3 };
    expect((await collect(remote.generate('Hello', seeded))).text).toBe((await collect(local.generate('Hello', seeded))).text);
  });

  it('concurrent calls decode together in the worker, each giving the in-thread engine\'s tokens', async () => {
    const prompts = [[3, 14, 15], [92, 65, 35, 89, 79], [2, 71]];
    const options = { maxTokens: 6, reuseCache: false };
    const alone: number[][] = [];
    for (const p of prompts) alone.push((await collect(local.generate({ tokens: p }, options))).tokens);
    const together = await Promise.all(prompts.map((p) => collect(remote.generate({ tokens: p }, options))));
    expect(together.map((r) => r.tokens)).toEqual(alone);
  });

  it('abort ends the stream with the reason; leaving the loop early cancels; the engine stays ready', async () => {
    const seen: GenerationChunk[] = [];
    const run = abortAfter(2, (signal) => remote.generate('Hi', { maxTokens: 20, signal }), new Error('stopped by user'), seen);
    await expect(run).rejects.toThrow('stopped by user');
    expect(seen.length).toBe(2);
    for await (const c of remote.generate('Hi', { maxTokens: 20 })) if (c.tokens.length) break;
    const a = await collect(remote.generate('Hi', { maxTokens: 4 }));
    expect(a.tokens).toEqual((await collect(local.generate('Hi', { maxTokens: 4 }))).tokens);
  });

  it('the OpenAI-style surface works through the worker', async () => {
    const reply = await remote.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }], max_tokens: 3, temperature: 0 });
    const same = await local.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }], max_tokens: 3, temperature: 0 });
    expect(reply.choices[0].message.content).toBe(same.choices[0].message.content);
    expect(reply.usage.completion_tokens).toBe(same.usage.completion_tokens);
  });

  it('WebLLM calls through the worker: interruptGenerate ends the stream, getMessage, runtimeStatsText, resetChat', async () => {
    const chunks = [];
    for await (const c of remote.generate('Hi', { maxTokens: 20, logitBias: { 70: 100 } })) {
      chunks.push(c);
      if (chunks.length === 2) remote.interruptGenerate();
    }
    expect(chunks[chunks.length - 1].stats!.finishReason).toBe('abort');
    expect(chunks[chunks.length - 1].stats!.completionTokens).toBeLessThan(20);
    expect(await remote.getMessage()).toBe(chunks.map((c) => c.text).join(''));
    expect(await remote.runtimeStatsText()).toMatch(/^prefill: [\d.]+ tokens\/sec, decoding: [\d.]+ tokens\/sec$/);
    await remote.resetChat();
    expect(await remote.getMessage()).toBe('');
  });

  it('structured output through the worker: the in-thread engine\'s reply', async () => {
    const request = {
      messages: [{ role: 'user', content: 'Hi' }],
      max_tokens: 40,
      temperature: 0,
      response_format: { type: 'json_schema' as const,
        json_schema: { name: 'x', schema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } } },
    };
    const reply = await remote.chat.completions.create(request);
    expect(Object.keys(JSON.parse(reply.choices[0].message.content!))).toEqual(['ok']);
    expect(reply.choices[0].message.content).toBe((await local.chat.completions.create(request)).choices[0].message.content);
  });

  it('routing controls through the worker: per-call logits, setRouting, setExpertMask and routingStats as in-thread', async () => {
    const tokens = [0, 17, 42, 99, 5];
    expect(await remote.logits(tokens, { routing: { topK: 1 } })).toEqual(await local.logits(tokens, { routing: { topK: 1 } }));
    const mask = Array.from({ length: local.config.experts }, (_, e) => e !== 1);
    for (const e of [remote, local]) {
      await e.setRouting({ topP: 0.5 });
      await e.setExpertMask(0, mask);
    }
    const [a, b] = [await collect(remote.generate({ tokens }, { maxTokens: 4 })), await collect(local.generate({ tokens }, { maxTokens: 4 }))];
    expect(a.tokens).toEqual(b.tokens);
    expect(await remote.routingStats()).toEqual(await local.routingStats());
    expect((await remote.routingStats())!.layers[0].load[1]).toBe(0);
    for (const e of [remote, local]) {
      await e.setRouting({});
      await e.setExpertMask(0, mask.map(() => true));
    }
    await expect(remote.setRouting({ topP: 2 })).rejects.toThrow(/routing\.topP must be in \(0, 1\], got 2/);
  });

  it('dispose() mid-stream ends the stream and refuses every later call with EngineDisposedError', async () => {
    const engine = await createWorkerEngine(modelDir('mixtral'), { contextLength: 64 });
    const it = engine.generate('Hi', { maxTokens: 20 });
    await it.next();
    engine.dispose();
    await expect(it.next()).rejects.toThrow(EngineDisposedError);
    await expect(collect(engine.generate('Hi'))).rejects.toThrow(EngineDisposedError);
    await expect(engine.logits([1, 2])).rejects.toThrow(EngineDisposedError);
    await expect(engine.encode('Hi')).rejects.toThrow(EngineDisposedError);
    await expect(engine.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }] })).rejects.toThrow(EngineDisposedError);
  });

  it('a load that fails in the worker rejects with its error', async () => {
    await expect(createWorkerEngine(join(dir, 'no-such-model'))).rejects.toThrow(/no-such-model\/config\.json: not found/);
  });

  it('a worker script that throws rejects with a WorkerError, no hang', async () => {
    const file = join(dir, 'throws.mjs');
    writeFileSync(file, 'throw new Error(\'boom at start\');\n');
    await expect(createWorkerEngine(modelDir('mixtral'), { workerUrl: pathToFileURL(file) }))
      .rejects.toThrow('webmoe: the engine worker died: boom at start');
  });

  it('a worker that dies mid-stream fails the iterator with a WorkerError, no hang', async () => {
    const trap = join(dir, 'engine-exit.mjs');
    writeFileSync(trap, `import { parentPort } from 'node:worker_threads';
let nexts = 0;
parentPort.addEventListener('message', (event) => {
  const m = event.data;
  if (m && m.type === 'APPLY' && m.path && m.path[0] === 'next' && ++nexts === 3) { event.stopImmediatePropagation(); process.exit(7); }
});
`);
    const file = join(dir, 'engine-dies.mjs');
    writeFileSync(file, 'import \'./engine-exit.mjs\';\nimport \'./engine-worker-node.js\';\n');
    const dying = await createWorkerEngine(modelDir('mixtral'), { contextLength: 64, workerUrl: pathToFileURL(file) });
    const seen: GenerationChunk[] = [];
    const run = async () => {
      for await (const c of dying.generate('Hi', { maxTokens: 20 })) seen.push(c);
    };
    await expect(run()).rejects.toThrow('webmoe: the engine worker died: exited with code 7');
    expect(seen.length).toBe(2);
    await expect(dying.logits([1, 2])).rejects.toThrow(/engine worker died/);
    dying.dispose();
  });

  it('with the expert cache: the same tokens and logits, and its stats on the last chunk', async () => {
    const cached = await createWorkerEngine(modelDir('mixtral'), { contextLength: 64, expertCacheBytes: 2 * 3 * 64 * 16 * 4, prefetch: true });
    try {
      const prompt = { tokens: [0, 17, 42, 99, 5] };
      const a = await collect(cached.generate(prompt, { maxTokens: 8 }));
      expect(a.tokens).toEqual((await collect(local.generate(prompt, { maxTokens: 8 }))).tokens);
      expect(a.last.stats!.expertCache!.slots).toBe(2);
      expect(a.last.stats!.expertCache!.misses).toBeGreaterThan(0);
      expect(await cached.logits(prompt.tokens)).toEqual(await local.logits(prompt.tokens));
    } finally {
      cached.dispose();
    }
  });
});
