// One sequence in a decoder's KV cache: the tokens whose keys and values the cache holds, position by
// position. A forward appends after them; only a forward that completes makes its positions valid, so
// a failed or aborted call leaves the sequence holding what is valid (the cache's later positions are
// overwritten by the next append).
import type { Decoder, LogitRows } from './decoder.js';

export class Sequence {
  private readonly valid: number[] = [];

  constructor(private readonly decoder: Decoder) {}

  /** The tokens at positions 0 … length − 1, whose keys and values the cache holds. */
  get tokens(): readonly number[] {
    return this.valid;
  }

  get length(): number {
    return this.valid.length;
  }

  /** Room left in the cache, in positions. */
  get room(): number {
    return this.decoder.contextLength - this.valid.length;
  }

  /** Runs `tokens` at the positions after the valid ones and returns their logits ([rows, vocab]). */
  async append(tokens: readonly number[], rows: LogitRows, signal?: AbortSignal): Promise<Float32Array> {
    signal?.throwIfAborted();
    const logits = await this.decoder.forward(tokens, this.valid.length, rows);
    this.valid.push(...tokens);
    signal?.throwIfAborted();
    return logits;
  }

  /** Keeps positions 0 … length − 1 only. */
  truncate(length: number): void {
    this.valid.length = Math.min(length, this.valid.length);
  }

  /** How many leading tokens of `tokens` the cache holds already (what a next call need not prefill). */
  commonPrefix(tokens: readonly number[]): number {
    let n = 0;
    while (n < tokens.length && n < this.valid.length && tokens[n] === this.valid[n]) n++;
    return n;
  }
}
