// The engine's lifecycle on the mixtral fixture: iterators left early release the engine, options are
// refused by name, and dispose() — idle, between chunks or while a forward is on the GPU — ends the
// running call with EngineDisposedError, submits nothing more, and leaves no GPU buffer alive. The
// device is wrapped to count the buffers made and destroyed and the submits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, EngineDisposedError, EngineOptionError, type GenerateOptions } from '../../src/api/engine.js';
import { nodeDirSource } from '../../src/io/nodeSource.js';
import { collect } from '../helpers/generation.js';
import { testDevice } from '../helpers/gpu.js';
import { modelDir } from '../helpers/models.js';

/** Wraps `device`: the buffers it made that are not destroyed yet, and a hook on each submit. */
function countBuffers(device: GPUDevice) {
  const counts = { alive: new Set<GPUBuffer>(), created: 0, submits: 0, onSubmit: () => {} };
  const create = device.createBuffer.bind(device);
  device.createBuffer = (d) => {
    const b = create(d);
    counts.created++;
    counts.alive.add(b);
    const destroy = b.destroy.bind(b);
    b.destroy = () => {
      counts.alive.delete(b);
      destroy();
    };
    return b;
  };
  const submit = device.queue.submit.bind(device.queue);
  device.queue.submit = (buffers) => {
    counts.submits++;
    submit(buffers);
    counts.onSubmit();
  };
  return counts;
}

const load = (device: GPUDevice, contextLength = 64, model = 'mixtral') => Engine.load(device, nodeDirSource(modelDir(model)), { contextLength });
const prompt = { tokens: [0, 17, 42, 99, 5] };

describe('Engine lifecycle', () => {
  let device: GPUDevice;
  let counts: ReturnType<typeof countBuffers>;
  let engine: Engine;
  beforeAll(async () => {
    device = await testDevice();
    counts = countBuffers(device);
    engine = await load(device);
  });
  afterAll(() => {
    engine.dispose();
    device.destroy();
  });

  it('an iterator left by break or return() releases the engine', async () => {
    const expected = await collect(engine.generate(prompt, { maxTokens: 4 }));
    for await (const _ of engine.generate(prompt, { maxTokens: 10 })) break;
    const it = engine.generate(prompt, { maxTokens: 10 });
    await it.next();
    await it.return(undefined);
    for await (const _ of await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }], stream: true })) break;
    engine.generate(prompt); // never read: it holds nothing
    expect((await collect(engine.generate(prompt, { maxTokens: 4 }))).tokens).toEqual(expected.tokens);
  });

  it('refuses generation options by name', async () => {
    const refused = (o: GenerateOptions) => collect(engine.generate(prompt, o));
    for (const maxTokens of [0, -1, 2.5, NaN, '3' as unknown as number]) {
      await expect(refused({ maxTokens })).rejects.toThrow(new RegExp(`maxTokens must be a positive integer, got ${String(maxTokens)}`));
    }
    for (const stop of [5, ['a', 3], '', [''], null] as unknown as string[][]) {
      await expect(refused({ stop })).rejects.toThrow(EngineOptionError);
      await expect(refused({ stop })).rejects.toThrow(/stop must be a non-empty string or a list of them/);
    }
    await expect(refused({ temperature: -1 })).rejects.toThrow(/sampling option temperature must be a finite number ≥ 0, got -1/);
    await expect(refused({ temperature: NaN })).rejects.toThrow(/sampling option temperature/);
    await expect(refused({ topP: 0 })).rejects.toThrow(/sampling option topP must be in \(0, 1\], got 0/);
    await expect(refused({ topP: 1.5 })).rejects.toThrow(/sampling option topP/);
    await expect(refused({ topK: -1 })).rejects.toThrow(/sampling option topK must be an integer ≥ 0, got -1/);
    await expect(refused({ topK: 2.5 })).rejects.toThrow(/sampling option topK/);
    // one stop string is a list of one
    const a = await collect(engine.generate('Hello', { maxTokens: 10, temperature: 1, seed: 3, stop: 'e' }));
    const b = await collect(engine.generate('Hello', { maxTokens: 10, temperature: 1, seed: 3, stop: ['e'] }));
    expect(a.tokens).toEqual(b.tokens);
  });

  it('refuses chat completion options by their OpenAI names, streamed or not', async () => {
    const messages = [{ role: 'user', content: 'Hi' }];
    for (const stream of [false, true]) {
      for (const max_tokens of [0, -5, 1.5]) {
        const request = engine.chat.completions.create({ messages, stream, max_tokens } as { messages: typeof messages; stream: false });
        await expect(request).rejects.toThrow(new RegExp(`max_tokens must be a positive integer, got ${max_tokens}`));
      }
      const request = engine.chat.completions.create({ messages, stream, stop: 5 } as unknown as { messages: typeof messages; stream: false });
      await expect(request).rejects.toThrow(EngineOptionError);
    }
    // top_p by its OpenAI name too (before the sampler, which calls it topP)
    await expect(engine.chat.completions.create({ messages, max_tokens: null, top_p: 2 })).rejects.toThrow('webmoe: top_p must be a number in (0, 1], got 2');
  });

  it('refuses a contextLength that is not a positive integer or beyond max_position_embeddings, making no buffer', async () => {
    const before = counts.created;
    for (const n of [0, -5, 2.5, NaN]) {
      await expect(load(device, n)).rejects.toThrow(EngineOptionError);
      await expect(load(device, n)).rejects.toThrow(new RegExp(`contextLength must be a positive integer, got ${n}`));
    }
    await expect(load(device, 513)).rejects.toThrow(/contextLength 513 is beyond the model's 512 positions \(config.json max_position_embeddings\)/);
    expect(counts.created).toBe(before);
  });
});

describe('Engine.dispose', () => {
  let device: GPUDevice;
  let counts: ReturnType<typeof countBuffers>;
  beforeAll(async () => {
    device = await testDevice();
    counts = countBuffers(device);
  });
  afterAll(() => device.destroy());

  /** Loads an engine, runs `use` on it, and checks that it left no buffer alive and no WebGPU error. */
  async function withEngine(use: (engine: Engine) => Promise<void>, model?: string): Promise<void> {
    device.pushErrorScope('validation');
    const created = counts.created;
    const engine = await load(device, 64, model);
    expect(counts.alive.size).toBeGreaterThan(0);
    expect(counts.created).toBeGreaterThan(created);
    await use(engine);
    expect(engine.disposed).toBe(true);
    expect(counts.alive.size).toBe(0);
    expect(await device.popErrorScope()).toBeNull();
  }

  /** Every call on a disposed engine throws EngineDisposedError and makes no buffer and no submit. */
  async function expectDisposed(engine: Engine): Promise<void> {
    const { created, submits } = counts;
    await expect(collect(engine.generate(prompt, { maxTokens: 2 }))).rejects.toThrow(EngineDisposedError);
    await expect(engine.logits([1, 2, 3])).rejects.toThrow(EngineDisposedError);
    await expect(engine.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }] })).rejects.toThrow(EngineDisposedError);
    await expect(engine.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }], stream: true })).rejects.toThrow(/engine was disposed/);
    expect(() => engine.encode('Hi')).toThrow(EngineDisposedError);
    engine.dispose(); // twice: nothing more
    expect([counts.created, counts.submits]).toEqual([created, submits]);
  }

  it('after loading, generating with a trace and scoring: every buffer destroyed, every later call refused', () =>
    withEngine(async (engine) => {
      await collect(engine.generate(prompt, { maxTokens: 3, trace: true }));
      await engine.logits([3, 1, 4, 1, 5]);
      engine.dispose();
      await expectDisposed(engine);
    }));

  it('between chunks: the stream ends with EngineDisposedError and a call waiting its turn is refused', () =>
    withEngine(async (engine) => {
      const it = engine.generate(prompt, { maxTokens: 20 });
      await it.next();
      const waiting = collect(engine.generate(prompt, { maxTokens: 2 }));
      const submits = counts.submits;
      engine.dispose();
      await expect(it.next()).rejects.toThrow(EngineDisposedError);
      await expect(waiting).rejects.toThrow(EngineDisposedError);
      expect(counts.submits).toBe(submits);
      await expectDisposed(engine);
    }));

  it('as the next forward starts, and while a forward is on the GPU: nothing submitted after it', async () => {
    for (const when of ['start', 'in flight'] as const) {
      await withEngine(async (engine) => {
        const it = engine.generate(prompt, { maxTokens: 20, trace: when === 'start' });
        await it.next();
        let submits = -1;
        const dispose = () => {
          engine.dispose();
          submits = counts.submits;
        };
        if (when === 'in flight') counts.onSubmit = () => (counts.onSubmit = () => {}, queueMicrotask(dispose));
        const next = it.next();
        if (when === 'start') dispose();
        await expect(next).rejects.toThrow(EngineDisposedError);
        expect(counts.submits).toBe(submits);
        await expectDisposed(engine);
      });
    }
  });

  it('between the pieces of a long prompt on a sliding-window model: the next piece is not submitted', () =>
    withEngine(async (engine) => {
      let submits = -1;
      counts.onSubmit = () => {
        counts.onSubmit = () => {};
        queueMicrotask(() => {
          engine.dispose();
          submits = counts.submits;
        });
      };
      // window 4, a ring of 8: 12 tokens run in pieces of 5
      await expect(collect(engine.generate({ tokens: [0, 17, 42, 99, 5, 8, 13, 21, 34, 55, 89, 144] }, { maxTokens: 2 }))).rejects.toThrow(
        EngineDisposedError,
      );
      expect(counts.submits).toBe(submits);
      await expectDisposed(engine);
    }, 'mixtral_sliding'));
});
