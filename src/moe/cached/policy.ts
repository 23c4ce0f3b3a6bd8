// Which GPU slot a missing expert takes when none is free: the least recently used one (LRU), or the
// least frequently used with decay (LFU: a use adds 1 to its slot's score, and scores fade by DECAY a
// use anywhere, so that experts popular long ago give way). Ties: the slot used longest ago.
export type ExpertCachePolicy = 'lru' | 'lfu';
export const EXPERT_CACHE_POLICIES: readonly ExpertCachePolicy[] = ['lru', 'lfu'];

/** How much an LFU score keeps a use later. */
const DECAY = 0.98;

export class SlotPolicy {
  private tick = 0;
  /** the tick of each slot's latest use */
  private readonly last: Float64Array;
  /** LFU: each slot's score as of its latest use */
  private readonly score: Float64Array;

  constructor(private readonly kind: ExpertCachePolicy, slots: number) {
    this.last = new Float64Array(slots);
    this.score = new Float64Array(slots);
  }

  /** A slot's expert was used (`fresh`: the slot has just taken a new expert, whose score starts over). */
  use(slot: number, fresh = false): void {
    const now = ++this.tick;
    this.score[slot] = (fresh ? 0 : this.value(slot, now)) + 1;
    this.last[slot] = now;
  }

  /** The slot to give up, none of `pinned`; -1 when all are. */
  victim(pinned: ReadonlySet<number>): number {
    let best = -1;
    for (let s = 0; s < this.last.length; s++) {
      if (pinned.has(s)) continue;
      if (best < 0 || this.before(s, best)) best = s;
    }
    return best;
  }

  private before(a: number, b: number): boolean {
    if (this.kind === 'lfu') {
      const va = this.value(a, this.tick);
      const vb = this.value(b, this.tick);
      if (va !== vb) return va < vb;
    }
    return this.last[a] < this.last[b];
  }

  private value(slot: number, now: number): number {
    return this.score[slot] * DECAY ** (now - this.last[slot]);
  }
}
