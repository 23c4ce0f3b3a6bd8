// Which calls use the decoder at once, and which of its sequences (KV slots) each one gets. Calls that
// can share a forward (generations under the same routing) run together, each in a sequence of its
// own, as many as the decoder has slots; a call that needs the decoder alone (logits(), a traced or
// profiled generation, a capacity factor, whose routing depends on how tokens are batched) waits for
// the running calls to end and holds back the ones after it. Calls enter in the order they came, so
// none starves: the first one waiting holds back every later one until it can enter.
import type { Sequence } from '../model/sequence.js';

export interface Admitted {
  seq: Sequence;
  /** Leaves (once; later calls do nothing): the sequence goes back to the free ones. */
  leave(): void;
}

export interface Entrant {
  /** Needs the decoder alone. */
  exclusive: boolean;
  /** What the calls running together must agree on (their routing); unused for an exclusive call. */
  key: string;
  /** How well a free sequence suits the call (its reusable prefix): the highest is taken, the least recently used of equals. */
  score(seq: Sequence): number;
  /** Called as the call enters first of a group (no call running): sets up what the group shares. A throw refuses the call. */
  begin(): void;
  signal?: AbortSignal;
}

interface Waiter extends Entrant {
  admit(a: Admitted): void;
  fail(e: unknown): void;
}

export class Admission {
  /** Free sequences, least recently used first. */
  private readonly free: Sequence[];
  private holders = 0;
  private exclusiveHeld = false;
  private key = '';
  private readonly waiting: Waiter[] = [];
  private closed?: unknown;

  constructor(
    sequences: readonly Sequence[],
    /** Called as the last running call leaves, before any other enters: undoes what begin() set up. */
    private readonly end: () => void,
  ) {
    this.free = [...sequences];
  }

  /** How many calls run now. */
  get running(): number {
    return this.holders;
  }

  /** Resolves once the call may run, with its sequence; rejects if its signal aborts first or the admission is closed. */
  async enter(e: Entrant): Promise<Admitted> {
    if (this.closed !== undefined) throw this.closed;
    e.signal?.throwIfAborted();
    return new Promise((admit, fail) => {
      const w: Waiter = { ...e, admit, fail };
      const onAbort = () => {
        const i = this.waiting.indexOf(w);
        if (i < 0) return;
        this.waiting.splice(i, 1);
        fail(e.signal!.reason);
        this.pump(); // a call it held back may enter now
      };
      e.signal?.addEventListener('abort', onAbort, { once: true });
      w.admit = (a) => {
        e.signal?.removeEventListener('abort', onAbort);
        admit(a);
      };
      this.waiting.push(w);
      this.pump();
    });
  }

  /** Refuses every call waiting and every later one with `reason` (the engine ended). */
  close(reason: unknown): void {
    this.closed = reason;
    for (const w of this.waiting.splice(0)) w.fail(reason);
  }

  private pump(): void {
    while (this.waiting.length && this.closed === undefined) {
      const w = this.waiting[0];
      if (this.exclusiveHeld || (this.holders && (w.exclusive || w.key !== this.key || !this.free.length))) return;
      this.waiting.shift();
      if (!this.holders) {
        try {
          w.begin();
        } catch (e) {
          w.fail(e);
          continue;
        }
      }
      this.holders++;
      this.exclusiveHeld = w.exclusive;
      this.key = w.key;
      const seq = this.take(w.score);
      let left = false;
      w.admit({
        seq,
        leave: () => {
          if (left) return;
          left = true;
          this.free.push(seq);
          this.exclusiveHeld = false;
          if (--this.holders === 0) this.end();
          this.pump();
        },
      });
    }
  }

  private take(score: (seq: Sequence) => number): Sequence {
    let best = 0;
    for (let i = 1; i < this.free.length; i++) if (score(this.free[i]) > score(this.free[best])) best = i;
    return this.free.splice(best, 1)[0];
  }
}
