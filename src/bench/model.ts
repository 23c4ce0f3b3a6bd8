// A whole model's generation speed: prefill and decode tokens/s and time to first token of one greedy
// generation, after a short warm-up (the first call compiles every pipeline).
import type { Engine, GenerationStats } from '../api/engine.js';

export interface ModelBenchRecord {
  model: string;
  dtype: string;
  promptTokens: number;
  generatedTokens: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  timeToFirstTokenMs: number;
}

export interface ModelBenchOptions {
  dtype: string;
  /** Prompt length in tokens. Default 64. */
  promptTokens?: number;
  /** Tokens to generate. Default 32. */
  maxTokens?: number;
  signal?: AbortSignal;
}

/** The prompt and generation lengths `webmoe bench` and the benchmark page time, quick or full. */
export function modelBenchSize(quick: boolean): { promptTokens: number; maxTokens: number } {
  return quick ? { promptTokens: 32, maxTokens: 8 } : { promptTokens: 128, maxTokens: 32 };
}

const TEXT = 'It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife. ';

export async function benchModel(engine: Engine, o: ModelBenchOptions): Promise<ModelBenchRecord> {
  const want = o.promptTokens ?? 64;
  let ids = engine.encode(TEXT);
  while (ids.length < want) ids = engine.encode(TEXT.repeat(Math.ceil((want * 2) / ids.length)));
  const prompt = { tokens: ids.slice(0, want) };
  const run = async (maxTokens: number): Promise<GenerationStats> => {
    let stats: GenerationStats | undefined;
    for await (const chunk of engine.generate(prompt, { maxTokens, temperature: 0, signal: o.signal })) stats = chunk.stats ?? stats;
    return stats!;
  };
  await run(2);
  const s = await run(o.maxTokens ?? 32);
  return {
    model: engine.model, dtype: o.dtype, promptTokens: s.promptTokens, generatedTokens: s.completionTokens,
    prefillTokensPerSecond: s.prefillTokensPerSecond, decodeTokensPerSecond: s.decodeTokensPerSecond,
    timeToFirstTokenMs: s.timeToFirstTokenMs,
  };
}
