// A generation's figures: token counts, prefill and decode speed, time to first token, why it ended.
import type { RoutingStats } from './routing.js';

export type FinishReason = 'stop' | 'length';

export interface GenerationStats {
  promptTokens: number;
  completionTokens: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  timeToFirstTokenMs: number;
  finishReason: FinishReason;
  /** with `trace`: per MoE layer, tokens routed to each expert over the call */
  expertLoad?: { layer: number; counts: number[] }[];
  /** the call's routing telemetry (api/routing.ts; none for a dense model) */
  routing?: RoutingStats;
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

  stats(promptTokens: number, completionTokens: number, finishReason: FinishReason, expertLoad?: GenerationStats['expertLoad']): GenerationStats {
    const decodeMs = performance.now() - this.decodeStart;
    return {
      promptTokens,
      completionTokens,
      prefillTokensPerSecond: (promptTokens / this.prefillMs) * 1000,
      decodeTokensPerSecond: completionTokens > 1 ? ((completionTokens - 1) / decodeMs) * 1000 : 0,
      timeToFirstTokenMs: this.firstTokenMs,
      finishReason,
      expertLoad,
    };
  }
}
