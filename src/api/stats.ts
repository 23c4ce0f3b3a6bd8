// A generation's figures: token counts, prefill and decode speed, time to first token, why it ended.
import type { ExpertCacheStats } from '../moe/cached/stats.js';

/** 'abort': ended by interruptGenerate(); 'tool_calls': the model called tools (given `tools`). */
export type FinishReason = 'stop' | 'length' | 'abort' | 'tool_calls';

export interface GenerationStats {
  promptTokens: number;
  completionTokens: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  timeToFirstTokenMs: number;
  finishReason: FinishReason;
  /** with `trace`: per MoE layer, tokens routed to each expert over the call */
  expertLoad?: { layer: number; counts: number[] }[];
  /** with the expert cache (`expertCacheBytes`): its counters over the call and the experts resident at its end */
  expertCache?: ExpertCacheStats;
  /** prompt tokens whose keys and values the cache held from earlier calls (not prefilled) */
  cachedTokens?: number;
  /** with `contextOverflow: 'slide'`: messages dropped from the start of the conversation */
  droppedMessages?: number;
  /** with `profile`: where a decode step's time went, in ms per step */
  decodeProfile?: DecodeProfile;
}

/**
 * A decode step's time: `gpuMs` from its submit to the queue's work done, `readbackMs` from then to
 * the token (or logits row) in hand, `cpuMs` the rest of the step's wall time (recording, writes, the
 * CPU sampler where it runs, detokenizing, stop strings, the consumer of the stream).
 */
export interface DecodeProfile {
  steps: number;
  gpuMs: number;
  readbackMs: number;
  cpuMs: number;
}

/** What the call knows beside the counts: the cache it reused, the turns it dropped, its decode profile. */
export interface CallFigures {
  cachedTokens?: number;
  droppedMessages?: number;
  profile?: { forwards: number; gpuMs: number; readbackMs: number };
}

/** The clock of one call: started when the call starts, marked when the prompt is in and at the first sample. */
export class GenerationClock {
  private readonly start = performance.now();
  private prefillMs = 0;
  private firstTokenMs = 0;
  private decodeStart = 0;

  prefilled(): void {
    this.prefillMs = performance.now() - this.start;
  }

  /** A token was sampled (the first one marks the time to first token and the start of decoding). */
  sampled(): void {
    if (this.decodeStart) return;
    this.decodeStart = performance.now();
    this.firstTokenMs = this.decodeStart - this.start;
  }

  stats(
    promptTokens: number,
    completionTokens: number,
    finishReason: FinishReason,
    expertLoad?: GenerationStats['expertLoad'],
    { cachedTokens = 0, droppedMessages, profile }: CallFigures = {},
  ): GenerationStats {
    const decodeMs = performance.now() - this.decodeStart;
    const steps = profile?.forwards ?? 0;
    return {
      promptTokens,
      completionTokens,
      prefillTokensPerSecond: ((promptTokens - cachedTokens) / this.prefillMs) * 1000,
      decodeTokensPerSecond: completionTokens > 1 ? ((completionTokens - 1) / decodeMs) * 1000 : 0,
      timeToFirstTokenMs: this.firstTokenMs,
      finishReason,
      expertLoad,
      cachedTokens,
      ...(droppedMessages !== undefined && { droppedMessages }),
      ...(steps && {
        decodeProfile: {
          steps,
          gpuMs: profile!.gpuMs / steps,
          readbackMs: profile!.readbackMs / steps,
          cpuMs: (decodeMs - profile!.gpuMs - profile!.readbackMs) / steps,
        },
      }),
    };
  }
}
