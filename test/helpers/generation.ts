// Reading generation streams in tests, for the in-thread and the worker engines alike.
import type { GenerationChunk } from '../../src/api/engine.js';

/** Every chunk of a stream, with its tokens and text joined and its last chunk (the one with stats). */
export async function collect(it: AsyncIterable<GenerationChunk>) {
  const chunks: GenerationChunk[] = [];
  for await (const c of it) chunks.push(c);
  return { text: chunks.map((c) => c.text).join(''), tokens: chunks.flatMap((c) => c.tokens), chunks, last: chunks[chunks.length - 1] };
}

/**
 * Starts a generation with an abort signal and aborts it with `reason` once `n` chunks are in; the
 * chunks seen go into `seen`. Resolves or rejects as the stream ends.
 */
export async function abortAfter(n: number, start: (signal: AbortSignal) => AsyncIterable<GenerationChunk>, reason: Error,
  seen: GenerationChunk[]): Promise<void>
{
  const controller = new AbortController();
  for await (const c of start(controller.signal)) {
    seen.push(c);
    if (seen.length === n) controller.abort(reason);
  }
}
