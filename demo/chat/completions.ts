// The page chats through webmoe's OpenAI-style chat.completions (the API an app would use), on an
// engine view that adds what that API has no key for: the page's top-k and repetition penalty, and
// the routing trace, whose chunks go to `onChunk` as they stream.
import { ChatCompletions } from '../../src/api/openai.js';
import type { GenerateOptions, GenerationChunk, Prompt, WorkerEngine } from '../../src/index.js';

export function tracedCompletions(engine: WorkerEngine, extras: GenerateOptions, onChunk: (c: GenerationChunk) => void): ChatCompletions {
  return new ChatCompletions({
    model: engine.model,
    get disposed() {
      return engine.disposed;
    },
    async *generate(prompt: Prompt, options: GenerateOptions = {}) {
      for await (const chunk of engine.generate(prompt, { ...options, ...extras, trace: true })) {
        onChunk(chunk);
        yield chunk;
      }
    },
  });
}
