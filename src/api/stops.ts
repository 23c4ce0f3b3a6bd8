// The text a generation streams: its tokens decoded as they come, stop strings found across deltas,
// and the tail that might be the start of a stop string held back until it cannot be.
import type { TextStream } from '../model/tokenizer.js';

/** Index of the earliest stop string in `text`, or -1. Search the accumulated text: a stop string may span deltas. */
export function findStop(text: string, stops: readonly string[]): number {
  let first = -1;
  for (const stop of stops) {
    if (stop === '') continue; // it would match everywhere
    const i = text.indexOf(stop);
    if (i !== -1 && (first === -1 || i < first)) first = i;
  }
  return first;
}

export class StreamedText {
  private pending = '';
  private stopped = false;
  private readonly holdBack: number;

  /** `decoder`: none for a model without a tokenizer (the text stays empty). */
  constructor(private readonly decoder: TextStream | undefined, private readonly stops: readonly string[]) {
    this.holdBack = Math.max(0, ...stops.map((s) => s.length - 1));
  }

  /** The text that can be shown after `token`; `stopped` once a stop string appears (the text before it is the last). */
  push(token: number): { text: string; stopped: boolean } {
    this.pending += this.decoder?.push(token) ?? '';
    const cut = findStop(this.pending, this.stops);
    if (cut >= 0) {
      this.stopped = true;
      return { text: this.pending.slice(0, cut), stopped: true };
    }
    const text = this.pending.slice(0, Math.max(0, this.pending.length - this.holdBack));
    this.pending = this.pending.slice(text.length);
    return { text, stopped: false };
  }

  /** What is left to show at the end: the held-back tail and the decoder's, none after a stop string. */
  end(): string {
    return this.stopped ? '' : this.pending + (this.decoder?.flush() ?? '');
  }
}
