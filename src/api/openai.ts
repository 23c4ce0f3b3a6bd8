// An OpenAI-style chat completions surface over Engine.generate, with the object shapes WebLLM and
// the OpenAI SDK use (a test type-checks them against the `openai` package's). Every request field is
// honoured or refused by name (src/api/request.ts): none is silently ignored.
import type { Engine, GenerationStats, TextLogprob } from './engine.js';
import { EngineDisposedError } from './errors.js';
import type { ParsedToolCall } from '../model/toolCalls.js';
import { type ChatCompletionRequest, type CheckedRequest, checkRequest } from './request.js';

export type { ChatCompletionMessageParam, ChatCompletionRequest, ContentPart } from './request.js';

export type FinishReasonOpenAI = 'stop' | 'length' | 'tool_calls';

export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** webmoe extras (WebLLM's place for them): of the last choice */
  extra: { prefill_tokens_per_s: number; decode_tokens_per_s: number; time_to_first_token_ms: number };
}

export interface TokenLogprobOpenAI {
  token: string;
  bytes: number[] | null;
  logprob: number;
  top_logprobs: { token: string; bytes: number[] | null; logprob: number }[];
}

export interface ChoiceLogprobs {
  content: TokenLogprobOpenAI[] | null;
  refusal: null;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: {
    index: number;
    delta: { role?: 'assistant'; content?: string; tool_calls?: (ToolCallOpenAI & { index: number })[] };
    logprobs?: ChoiceLogprobs | null;
    finish_reason: FinishReasonOpenAI | null;
  }[];
  /** With stream_options.include_usage: null on every chunk but an extra last one (with no choices). */
  usage?: CompletionUsage | null;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: {
    index: number;
    message: { role: 'assistant'; content: string | null; refusal: null; tool_calls?: ToolCallOpenAI[] };
    logprobs: ChoiceLogprobs | null;
    finish_reason: FinishReasonOpenAI;
  }[];
  usage: CompletionUsage;
}

export interface ToolCallOpenAI {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** What ChatCompletions needs of an engine: the in-thread Engine and the WorkerEngine both have it. */
export type ChatEngine = Pick<Engine, 'generate' | 'model' | 'disposed'> & Partial<Pick<Engine, 'ended'>>;

const encoder = new TextEncoder();
const tokenLogprob = (l: TextLogprob & { top: TextLogprob[] }): TokenLogprobOpenAI => ({
  token: l.text,
  bytes: [...encoder.encode(l.text)],
  logprob: l.logprob,
  top_logprobs: l.top.map((t) => ({ token: t.text, bytes: [...encoder.encode(t.text)], logprob: t.logprob })),
});

export const usage = (promptTokens: number, completionTokens: number, s: GenerationStats): CompletionUsage => ({
  prompt_tokens: promptTokens,
  completion_tokens: completionTokens,
  total_tokens: promptTokens + completionTokens,
  extra: { prefill_tokens_per_s: s.prefillTokensPerSecond, decode_tokens_per_s: s.decodeTokensPerSecond, time_to_first_token_ms: s.timeToFirstTokenMs },
});

/** OpenAI has no 'abort': a call ended by interruptGenerate() reads as stopped (its stats say 'abort'). */
export const finishReason = (s: GenerationStats): FinishReasonOpenAI => (s.finishReason === 'length' ? 'length' : 'stop');

let nextId = 0;

const toolCall = (c: ParsedToolCall): ToolCallOpenAI => ({
  id: `call_${Date.now().toString(36)}${(nextId++).toString(36)}`,
  type: 'function',
  function: { name: c.name, arguments: c.arguments },
});

export class ChatCompletions {
  constructor(private readonly engine: ChatEngine) {}

  create(request: ChatCompletionRequest & { stream: true }): Promise<AsyncIterable<ChatCompletionChunk>>;
  create(request: ChatCompletionRequest & { stream?: false | null }): Promise<ChatCompletion>;
  create(request: ChatCompletionRequest): Promise<AsyncIterable<ChatCompletionChunk> | ChatCompletion>;
  /** Rejects at once (a stream too) on a disposed engine or a field out of range or not supported, naming it. */
  async create(r: ChatCompletionRequest): Promise<AsyncIterable<ChatCompletionChunk> | ChatCompletion> {
    if (this.engine.disposed) throw this.engine.ended?.() ?? new EngineDisposedError();
    const c = checkRequest(r, this.engine.model);
    if (r.stream) return this.chunks(c);
    return gather(this.chunks({ ...c, includeUsage: true }), c.n);
  }

  private async *chunks({ messages, options, n, includeUsage, parallelToolCalls }: CheckedRequest): AsyncGenerator<ChatCompletionChunk> {
    const base = { id: `chatcmpl-${Date.now().toString(36)}-${nextId++}`, object: 'chat.completion.chunk' as const, created: Math.floor(Date.now() / 1000),
      model: this.engine.model };
    let promptTokens = 0;
    let completionTokens = 0;
    let stats: GenerationStats | undefined;
    // n choices: one generation each, decoded together (the engine batches them), the seed (when
    // given) stepped so that sampled choices differ; their chunks come as they are made.
    const choice = async function*(this: ChatCompletions, index: number): AsyncGenerator<ChatCompletionChunk> {
      const seed = options.seed === undefined ? undefined : options.seed + index;
      let first = true;
      for await (const c of this.engine.generate(messages, { ...options, seed })) {
        // parallel_tool_calls: false keeps the first call.
        const calls = c.toolCalls?.slice(0, parallelToolCalls ? undefined : 1);
        const delta = {
          ...(first ? { role: 'assistant' as const } : {}),
          content: c.text,
          ...(calls?.length && { tool_calls: calls.map((call, i) => ({ index: i, ...toolCall(call) })) }),
        };
        first = false;
        const logprobs = options.logprobs ? { logprobs: { content: (c.logprobs ?? []).map(tokenLogprob), refusal: null } } : {};
        const end = c.stats;
        if (end) {
          stats = end;
          promptTokens = end.promptTokens;
          completionTokens += end.completionTokens;
        }
        const finish = end ? (calls?.length ? 'tool_calls' : finishReason(end)) : null;
        yield { ...base, choices: [{ index, delta, ...logprobs, finish_reason: finish }], ...(includeUsage && { usage: null }) };
      }
    };
    yield* merge(Array.from({ length: n }, (_, index) => choice.call(this, index)));
    if (includeUsage) yield { ...base, choices: [], usage: usage(promptTokens, completionTokens, stats!) };
  }
}

/** The items of several streams as they come; ending early (or a stream's error) ends them all. */
async function* merge<T>(streams: AsyncGenerator<T>[]): AsyncGenerator<T> {
  const next = (i: number) => streams[i].next().then((r) => ({ i, r }));
  const pending = new Map(streams.map((_, i) => [i, next(i)]));
  try {
    while (pending.size) {
      const { i, r } = await Promise.race(pending.values());
      if (r.done) {
        pending.delete(i);
        continue;
      }
      pending.set(i, next(i));
      yield r.value;
    }
  } finally {
    // A stream asked for its next item ends once that comes (an error it ends with then is not the caller's).
    for (const p of pending.values()) p.catch(() => {});
    await Promise.allSettled(streams.map((s) => s.return(undefined)));
  }
}

/** The whole reply of a stream's chunks (which include usage). */
async function gather(chunks: AsyncIterable<ChatCompletionChunk>, n: number): Promise<ChatCompletion> {
  const choices: ChatCompletion['choices'] = Array.from({ length: n }, (_, index) => ({
    index,
    message: { role: 'assistant', content: '', refusal: null },
    logprobs: null,
    finish_reason: 'stop',
  }));
  let last!: ChatCompletionChunk;
  for await (const c of chunks) {
    last = c;
    for (const { index, delta, logprobs, finish_reason } of c.choices) {
      const choice = choices[index];
      choice.message.content += delta.content ?? '';
      if (delta.tool_calls) choice.message.tool_calls = delta.tool_calls.map(({ index: _, ...call }) => call);
      if (logprobs) (choice.logprobs ??= { content: [], refusal: null }).content!.push(...logprobs.content!);
      if (finish_reason) choice.finish_reason = finish_reason;
    }
  }
  // A reply that only calls tools has no content.
  for (const { message } of choices) if (message.tool_calls && message.content === '') message.content = null;
  return { id: last.id, object: 'chat.completion', created: last.created, model: last.model, choices, usage: last.usage! };
}
