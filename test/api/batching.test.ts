// Generations running together on one engine (src/api/admission.ts, batcher.ts: one forward carries
// a token of each decoding sequence and chunks of prompts being read) give what each gives alone:
// the same greedy and seeded tokens and log-probabilities within 1e-5, however they interleave, on
// GQA (mixtral), sliding windows with sinks (gpt-oss) and MLA (DeepSeek-V2); a call that aborts or
// ends leaves the others undisturbed; more calls than sequences wait their turn; calls that need the
// decoder alone (a trace) or another routing wait for the running ones; n choices decode together.
// The engines skip the tile trial, so that both run the same tiles whatever the trial would time.
import { describe, expect, it } from 'vitest';
import type { Engine, GenerateOptions, GenerationChunk } from '../../src/api/engine.js';
import { EngineDisposedError } from '../../src/api/errors.js';
import { collect } from '../helpers/generation.js';
import { suiteEngine } from '../helpers/engine.js';
import { modelDir } from '../helpers/models.js';

/** `n` token ids below `vocab` from a seeded generator. */
function tokens(n: number, vocab: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => (s = (s * 1103515245 + 12345) % 2 ** 31) % vocab);
}

/**
 * Runs the generations of `prompts` on `engine`, each started once the one before has given
 * `startAfter` chunks (at once where it is 0), and gives each one's chunks.
 */
async function staggered(engine: Engine, prompts: number[][], options: (i: number) => GenerateOptions, startAfter: number[]) {
  const runs: (Promise<GenerationChunk[]> | undefined)[] = [];
  const start = (i: number) => {
    if (i >= prompts.length || runs[i]) return;
    runs[i] = (async () => {
      const chunks: GenerationChunk[] = [];
      if (startAfter[i] === 0) start(i + 1);
      for await (const c of engine.generate({ tokens: prompts[i] }, options(i))) {
        chunks.push(c);
        if (chunks.length === startAfter[i]) start(i + 1);
      }
      start(i + 1); // it ended before starting the next
      return chunks;
    })();
  };
  start(0);
  // the later runs start while earlier ones are read: wait for all of them as they appear
  for (let i = 0; i < prompts.length; i++) {
    while (!runs[i]) await new Promise((r) => setTimeout(r, 1));
    await runs[i]!.catch(() => undefined);
  }
  return Promise.all(runs as Promise<GenerationChunk[]>[]);
}

const picked = (chunks: GenerationChunk[]) => chunks.flatMap((c) => c.tokens);
const logprobsOf = (chunks: GenerationChunk[]) => chunks.flatMap((c) => c.logprobs ?? []).map((l) => l.logprob);

describe.each(['mixtral', 'gpt_oss', 'deepseek_v2'])('generations decoded together on %s', (name) => {
  const together = suiteEngine(modelDir(name), { contextLength: 160, maxSequences: 3, tune: false });
  const alone = suiteEngine(modelDir(name), { contextLength: 160, tune: false });
  // A one-token prompt, a short one and one longer than a prefill chunk (read in chunks between the others' steps).
  const prompts = () => [1, 9, 100].map((n, i) => tokens(n, together().config.vocab, 7 + i));

  it('gives each the tokens and log-probabilities it gives alone, however they interleave', async () => {
    const options = { maxTokens: 10, sampling: 'cpu', logprobs: true, reuseCache: false } as const;
    const expected: GenerationChunk[][] = [];
    for (const p of prompts()) expected.push((await collect(alone().generate({ tokens: p }, options))).chunks);
    for (const startAfter of [[0, 0, 0], [3, 2, 0], [1, 4, 0]]) {
      const before = together().batchTotals;
      const got = await staggered(together(), prompts(), () => options, startAfter);
      const after = together().batchTotals;
      got.forEach((chunks, i) => {
        const what = `${name}, prompt ${i}, start after ${startAfter.join(',')}`;
        expect(picked(chunks), what).toEqual(picked(expected[i]));
        const lp = logprobsOf(chunks);
        logprobsOf(expected[i]).forEach((e, t) => expect(Math.abs(lp[t] - e), `${what}, token ${t}`).toBeLessThanOrEqual(1e-5));
      });
      // forwards were shared: more sequence parts than forwards
      expect(after.parts - before.parts, name).toBeGreaterThan(after.forwards - before.forwards);
    }
  });

  it('samples on the GPU as alone: greedy and seeded', async () => {
    const options = (i: number): GenerateOptions => (i === 1 ? { maxTokens: 8, temperature: 0.9, topP: 0.9, seed: 11 } : { maxTokens: 8 });
    const expected: number[][] = [];
    for (const [i, p] of prompts().entries()) expected.push(picked((await collect(alone().generate({ tokens: p }, options(i)))).chunks));
    const got = await staggered(together(), prompts(), options, [2, 0, 0]);
    expect(got.map(picked)).toEqual(expected);
  });

  it('a call that aborts or ends early leaves the others as they were', async () => {
    const options = { maxTokens: 10, reuseCache: false };
    const expected: number[][] = [];
    for (const p of prompts()) expected.push(picked((await collect(alone().generate({ tokens: p }, options))).chunks));
    const abort = new AbortController();
    const short = collect(together().generate({ tokens: prompts()[0] }, { ...options, maxTokens: 2 }));
    const aborted = (async () => {
      let n = 0;
      for await (const _ of together().generate({ tokens: prompts()[1] }, { ...options, signal: abort.signal })) {
        if (++n === 3) abort.abort(new Error('user stop'));
      }
    })();
    const full = collect(together().generate({ tokens: prompts()[2] }, options));
    await expect(aborted).rejects.toThrow('user stop');
    expect((await short).tokens).toEqual(expected[0].slice(0, 2));
    expect((await full).tokens).toEqual(expected[2]);
  });
});

describe('calls beyond the sequences, and calls that run alone', () => {
  const together = suiteEngine(modelDir('mixtral'), { contextLength: 128, maxSequences: 2, tune: false });
  const alone = suiteEngine(modelDir('mixtral'), { contextLength: 128, tune: false });
  const prompts = () => [5, 12, 3, 30, 8].map((n, i) => tokens(n, together().config.vocab, 100 + i));

  it('more calls than sequences wait their turn, and each gives what it gives alone', async () => {
    const expected: number[][] = [];
    for (const p of prompts()) expected.push((await collect(alone().generate({ tokens: p }, { maxTokens: 6 }))).tokens);
    const before = together().batchTotals;
    const got = await Promise.all(prompts().map((p) => collect(together().generate({ tokens: p }, { maxTokens: 6 }))));
    expect(got.map((g) => g.tokens)).toEqual(expected);
    const after = together().batchTotals;
    // never more than the two sequences in a forward, and mostly two
    expect(after.parts - before.parts).toBeLessThanOrEqual(2 * (after.forwards - before.forwards));
    expect(after.parts - before.parts).toBeGreaterThan(after.forwards - before.forwards);
  });

  it('a traced call and a call under other routing wait for the running ones, and give what they give alone', async () => {
    const [p0, p1, p2] = prompts();
    // reuseCache: false: each prompt read whole both ways (a cached prefix would change the prefill's shape, and the trace's last bits)
    const traceAlone = await collect(alone().generate({ tokens: p1 }, { maxTokens: 4, trace: true, reuseCache: false }));
    const otherAlone = await collect(alone().generate({ tokens: p2 }, { maxTokens: 4, routing: { topK: 1 }, reuseCache: false }));
    const plainAlone = await collect(alone().generate({ tokens: p0 }, { maxTokens: 4, reuseCache: false }));
    const [plain, traced, other] = await Promise.all([
      collect(together().generate({ tokens: p0 }, { maxTokens: 4, reuseCache: false })),
      collect(together().generate({ tokens: p1 }, { maxTokens: 4, trace: true, reuseCache: false })),
      collect(together().generate({ tokens: p2 }, { maxTokens: 4, routing: { topK: 1 }, reuseCache: false })),
    ]);
    expect(plain.tokens).toEqual(plainAlone.tokens);
    expect(traced.tokens).toEqual(traceAlone.tokens);
    // the same experts at the same positions; weights within float32 rounding (each engine's tile trial may pick other tiles)
    const steps = (r: typeof traced) => r.chunks.flatMap((c) => c.routing ?? []);
    const [got, want] = [steps(traced), steps(traceAlone)];
    expect(got.map((s) => [s.positions, s.layers.map((l) => [l.layer, l.ids])])).toEqual(want.map((s) => [s.positions, s.layers.map((l) => [l.layer, l.ids])]));
    const weights = (r: typeof got) => r.flatMap((s) => s.layers.flatMap((l) => l.weights.flat()));
    weights(want).forEach((w, i) => expect(Math.abs(weights(got)[i] - w)).toBeLessThanOrEqual(1e-5));
    expect(other.tokens).toEqual(otherAlone.tokens);
  });

  it('n choices decode together, each as its own seeded call', async () => {
    const messages = [{ role: 'user' as const, content: 'Tell me about the weather.' }];
    const reply = await together().chat.completions.create({ messages, n: 3, temperature: 0.8, seed: 5, max_tokens: 6 });
    for (const [i, c] of reply.choices.entries()) {
      const one = await collect(alone().generate(messages, { maxTokens: 6, temperature: 0.8, seed: 5 + i }));
      expect(c.message.content, `choice ${i}`).toBe(one.text);
    }
  });

  it('dispose() ends the running calls and the waiting ones with EngineDisposedError', async () => {
    const e = together();
    // No call may end before the dispose: the EOS ids are biased out, and it comes after the first token.
    const logitBias = Object.fromEntries(e.config.eosTokenIds.map((id) => [id, -100]));
    let first!: () => void;
    const started = new Promise<void>((r) => (first = r));
    const calls = prompts().map((p) =>
      (async () => {
        for await (const _ of e.generate({ tokens: p }, { maxTokens: 100, logitBias })) first();
      })().then(() => 'ended', (err: unknown) => err)
    );
    await started;
    e.dispose();
    for (const c of await Promise.all(calls)) expect(c).toBeInstanceOf(EngineDisposedError);
  });
});
