// One sequence in a decoder's KV cache: the tokens whose keys and values the cache holds, position by
// position. A forward appends after them; only a forward that completes makes its positions valid, so
// a failed or aborted call leaves the sequence holding what is valid (the cache's later positions are
// overwritten by the next append). A sliding window's ring keeps only its last positions: what a
// forward wrote since (even one that failed) may have overwritten keys an earlier position needs, and
// the sequence then drops back to what the cache can still continue (decoder.resumes), at worst nothing.
// Each sequence owns one of the decoder's KV slots; appendBatch runs several in one forward.
import type { BatchReader, Decoder, LogitRows } from './decoder.js';
import { DecoderInputError } from './limits.js';

export class Sequence {
  private readonly valid: number[] = [];
  /** One past the last position a forward may have written since the sequence was last empty. */
  private written = 0;

  constructor(
    private readonly decoder: Decoder,
    /** the decoder's KV slot the sequence's keys and values are in (0 … decoder.slots − 1) */
    readonly slot = 0,
  ) {
    if (!(Number.isInteger(slot) && slot >= 0 && slot < decoder.slots)) {
      throw new RangeError(`webmoe: Sequence slot ${slot} is outside the decoder's slots 0…${decoder.slots - 1}`);
    }
  }

  /**
   * One forward over the tokens of several sequences (Decoder.forwardBatch), each after its valid
   * ones: row i of the logits `reader` gets is part i's last token's. All valid after it succeeds;
   * on a failure each keeps what is valid (as append). Sequences must differ and hold different slots.
   */
  static async appendBatch<T>(
    parts: readonly { seq: Sequence; tokens: readonly number[] }[],
    reader: BatchReader<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    signal?.throwIfAborted();
    if (!parts.length) throw new DecoderInputError('webmoe: Sequence.appendBatch() needs at least one part');
    const { decoder } = parts[0].seq;
    if (parts.some(({ seq }) => seq.decoder !== decoder)) {
      throw new DecoderInputError('webmoe: Sequence.appendBatch(): the sequences are of different decoders');
    }
    const batch = parts.map(({ seq, tokens }) => ({ slot: seq.slot, pos0: seq.valid.length, tokens }));
    return Sequence.extend(parts, signal, () => decoder.forwardBatch(batch, reader, signal));
  }

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

  /**
   * Runs `tokens` at the positions after the valid ones and returns their logits ([rows, vocab]);
   * `signal` is checked before each piece a long call runs in (Decoder.forward) and after the last.
   */
  async append(tokens: readonly number[], rows: LogitRows, signal?: AbortSignal): Promise<Float32Array> {
    return Sequence.extend([{ seq: this, tokens }], signal, () => this.decoder.forward(tokens, this.valid.length, rows, signal, this.slot));
  }

  /** Runs `forward`, which writes each part's tokens after its sequence's valid ones, and keeps what it made valid. */
  private static async extend<T>(parts: readonly { seq: Sequence; tokens: readonly number[] }[], signal: AbortSignal | undefined,
    forward: () => Promise<T>): Promise<T>
  {
    signal?.throwIfAborted();
    for (const { seq, tokens } of parts) seq.written = Math.max(seq.written, seq.valid.length + tokens.length);
    let out: T;
    try {
      out = await forward();
    } catch (e) {
      for (const { seq } of parts) seq.keepResumable();
      throw e;
    }
    for (const { seq, tokens } of parts) seq.valid.push(...tokens);
    signal?.throwIfAborted();
    return out;
  }

  /** Keeps positions 0 … length − 1 only (fewer where a sliding window's ring has lost keys they need). */
  truncate(length: number): void {
    this.valid.length = Math.min(length, this.valid.length);
    this.keepResumable();
  }

  /** How many leading tokens of `tokens` the cache holds already (what a next call need not prefill). */
  commonPrefix(tokens: readonly number[]): number {
    let n = 0;
    while (n < tokens.length && n < this.valid.length && tokens[n] === this.valid[n]) n++;
    return n;
  }

  private keepResumable(): void {
    if (!this.decoder.resumes(this.valid.length, this.written)) this.valid.length = 0;
    if (!this.valid.length) this.written = 0;
  }
}
