// Steps of the generations running together, batched into shared forwards: each generation asks for
// the logits-derived result (its next token) of running some tokens after its sequence, and the steps
// asked for meanwhile go into one forward (Decoder.forwardBatch): a token from each sequence that is
// decoding and a chunk of each prompt being read, so that each expert's weights are read once for all
// the tokens routed to it. A prompt is read in chunks of at most `prefillChunk` tokens a forward while
// others run (decode steps between its chunks, so a long prompt does not stall them), whole when it
// runs alone. A forward starts once every running generation has asked for its step, or one timer
// tick after the first asked (a generation whose reader is slow to ask does not hold up the others).
import type { BatchReader } from '../model/decoder.js';
import { Sequence } from '../model/sequence.js';

/** How a step's result is read from its row of the forward's logits ([parts, vocab] on the GPU). */
export interface RowReader<T> {
  record(encoder: GPUCommandEncoder, logits: GPUBuffer, row: number): void;
  read(): Promise<T>;
}

interface Step {
  seq: Sequence;
  /** the tokens still to run */
  tokens: readonly number[];
  reader: RowReader<unknown>;
  signal: AbortSignal;
  /** after each forward that ran some of the tokens (their routing is then readable) */
  onPiece?: (pos0: number, tokens: number) => Promise<void> | void;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

/** Prompt tokens one forward reads while other generations run (a decode step's latency bound). */
export const PREFILL_CHUNK = 64;

/** What the forwards carried, summed since the engine loaded. */
export interface BatchTotals {
  forwards: number;
  /** sequences' parts: a decode step or a prompt chunk each (parts / forwards: the mean batch) */
  parts: number;
  tokens: number;
}

export class Batcher {
  readonly totals: BatchTotals = { forwards: 0, parts: 0, tokens: 0 };
  private readonly queue: Step[] = [];
  private running = false;
  private timer?: ReturnType<typeof setTimeout>;
  /** Generations that may ask for steps (joined and not yet left). */
  private members = 0;

  constructor(
    private readonly maxTokens: number,
    /** the engine's lifetime: it ends every forward */
    private readonly lifetime: AbortSignal,
    private readonly prefillChunk = PREFILL_CHUNK,
  ) {}

  /** A generation starts asking for steps; returns what it calls as it ends. */
  join(): () => void {
    this.members++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.members--;
      this.kick(); // the others need no longer wait for it
    };
  }

  /** Runs `tokens` after `seq` in a forward shared with the other generations' steps; resolves to what `reader` reads of its last token's logits. */
  step<T>(seq: Sequence, tokens: readonly number[], reader: RowReader<T>, signal: AbortSignal, onPiece?: Step['onPiece']): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      signal.throwIfAborted();
      this.queue.push({ seq, tokens, reader, signal, onPiece, resolve: resolve as (v: unknown) => void, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.running || !this.queue.length) return;
    if (this.queue.length >= this.members) {
      clearTimeout(this.timer);
      this.timer = undefined;
      void this.forward();
    } else {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        if (!this.running) void this.forward();
      }, 0);
    }
  }

  /**
   * What stops a forward: the engine's end, or the abort of every call in it (a read it waits on, such
   * as the expert cache's, then ends); one call's abort alone does not stop the others' forward.
   * `release()` takes its listeners off the calls' signals once the forward is over.
   */
  private abortedByAll(signals: AbortSignal[]): { signal: AbortSignal; release(): void } {
    const all = new AbortController();
    const over = new AbortController();
    let left = signals.length;
    for (const signal of signals) {
      signal.addEventListener('abort', () => {
        if (--left === 0) all.abort(signal.reason);
      }, { once: true, signal: over.signal });
    }
    return { signal: AbortSignal.any([this.lifetime, all.signal]), release: () => over.abort() };
  }

  private async forward(): Promise<void> {
    this.running = true;
    const steps = this.queue.splice(0);
    const taken: { s: Step; n: number }[] = [];
    let budget = steps.length === 1 ? this.maxTokens : Math.min(this.prefillChunk, this.maxTokens);
    for (const s of steps) {
      if (s.signal.aborted) {
        s.reject(s.signal.reason);
        continue;
      }
      // Decode steps always go; prompt chunks share the budget, first come first.
      const n = s.tokens.length === 1 ? 1 : Math.min(s.tokens.length, budget);
      if (n === 0) {
        this.queue.push(s);
        continue;
      }
      if (s.tokens.length > 1) budget -= n;
      taken.push({ s, n });
    }
    try {
      if (!taken.length) return;
      const last = taken.flatMap(({ s, n }, row) => (n === s.tokens.length ? [{ s, row }] : []));
      const reader: BatchReader<PromiseSettledResult<unknown>[]> = {
        record: (encoder, logits) => {
          for (const { s, row } of last) s.reader.record(encoder, logits, row);
        },
        read: () => Promise.allSettled(last.map(({ s }) => s.reader.read())),
      };
      const parts = taken.map(({ s, n }) => ({ seq: s.seq, tokens: s.tokens.slice(0, n), pos0: s.seq.length }));
      let results: PromiseSettledResult<unknown>[];
      const stop = this.abortedByAll(taken.map(({ s }) => s.signal));
      try {
        results = await Sequence.appendBatch(parts, reader, stop.signal);
        this.totals.forwards++;
        this.totals.parts += parts.length;
        this.totals.tokens += parts.reduce((a, p) => a + p.tokens.length, 0);
      } catch (e) {
        for (const { s } of taken) s.reject(e);
        return;
      } finally {
        stop.release();
      }
      const ended = new Set(last.map(({ s }) => s));
      const rest: Step[] = [];
      for (const [i, { s, n }] of taken.entries()) {
        try {
          await s.onPiece?.(parts[i].pos0, n);
        } catch (e) {
          ended.add(s);
          s.reject(e);
          continue;
        }
        if (!ended.has(s)) rest.push({ ...s, tokens: s.tokens.slice(n) });
      }
      for (const [i, { s }] of last.entries()) {
        const r = results[i];
        if (r.status === 'fulfilled') s.resolve(r.value);
        else s.reject(r.reason);
      }
      // A prompt's next chunk goes before the steps asked for since.
      this.queue.unshift(...rest);
    } finally {
      this.running = false;
      this.kick();
    }
  }
}
