// An OpenAI-style chat completions surface over Engine.generate, with the object shapes WebLLM
// and the OpenAI SDK use: chunks with choices[0].delta.content, and usage at the end.
import type { ChatMessage } from '../model/tokenizer.js';
import type { Engine, GenerationStats, RoutingOptions } from './engine.js';
import { EngineDisposedError, positiveInteger, stopStrings } from './errors.js';

export interface ChatCompletionRequest {
  messages: ChatMessage[];
  stream?: boolean;
  max_tokens?: number | null;
  temperature?: number;
  top_p?: number;
  seed?: number;
  stop?: string | string[];
  /** webmoe: AbortSignal of the request */
  signal?: AbortSignal;
  /** webmoe: routing controls of the request (as GenerateOptions.routing) */
  routing?: RoutingOptions;
}

export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** webmoe extras */
  extra: { prefill_tokens_per_s: number; decode_tokens_per_s: number; time_to_first_token_ms: number };
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: { index: 0; delta: { role?: 'assistant'; content?: string }; finish_reason: 'stop' | 'length' | null }[];
  usage?: CompletionUsage;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: { index: 0; message: { role: 'assistant'; content: string }; finish_reason: 'stop' | 'length' }[];
  usage: CompletionUsage;
}

const usage = (s: GenerationStats): CompletionUsage => ({
  prompt_tokens: s.promptTokens,
  completion_tokens: s.completionTokens,
  total_tokens: s.promptTokens + s.completionTokens,
  extra: { prefill_tokens_per_s: s.prefillTokensPerSecond, decode_tokens_per_s: s.decodeTokensPerSecond, time_to_first_token_ms: s.timeToFirstTokenMs },
});

let nextId = 0;

export class ChatCompletions {
  constructor(private readonly engine: Pick<Engine, 'generate' | 'model' | 'disposed'>) {}

  create(request: ChatCompletionRequest & { stream: true }): Promise<AsyncIterable<ChatCompletionChunk>>;
  create(request: ChatCompletionRequest & { stream?: false }): Promise<ChatCompletion>;
  /** Rejects at once (a stream too) on a disposed engine or a bad max_tokens or stop, naming the key. */
  async create(r: ChatCompletionRequest): Promise<AsyncIterable<ChatCompletionChunk> | ChatCompletion> {
    if (this.engine.disposed) throw new EngineDisposedError();
    const maxTokens = r.max_tokens == null ? undefined : positiveInteger('max_tokens', r.max_tokens);
    const stop = r.stop === undefined ? undefined : stopStrings('stop', r.stop);
    const chunks = this.chunks(r, maxTokens, stop);
    if (r.stream) return chunks;
    let content = '';
    let last: ChatCompletionChunk | undefined;
    for await (const c of chunks) {
      content += c.choices[0].delta.content ?? '';
      last = c;
    }
    const { id, created, model, usage: u } = last!;
    return { id, object: 'chat.completion', created, model,
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: last!.choices[0].finish_reason! }], usage: u! };
  }

  private async *chunks(r: ChatCompletionRequest, maxTokens?: number, stop?: string[]): AsyncGenerator<ChatCompletionChunk> {
    const base = { id: `chatcmpl-${Date.now().toString(36)}-${nextId++}`, object: 'chat.completion.chunk' as const, created: Math.floor(Date.now() / 1000),
      model: this.engine.model };
    let first = true;
    for await (const c of this.engine.generate(r.messages, {
      maxTokens,
      temperature: r.temperature ?? 1,
      topP: r.top_p,
      seed: r.seed,
      stop,
      signal: r.signal,
      routing: r.routing,
    })) {
      const delta = { ...(first ? { role: 'assistant' as const } : {}), content: c.text };
      first = false;
      yield c.stats
        ? { ...base, choices: [{ index: 0, delta, finish_reason: c.stats.finishReason }], usage: usage(c.stats) }
        : { ...base, choices: [{ index: 0, delta, finish_reason: null }] };
    }
  }
}
