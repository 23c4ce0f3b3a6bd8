// OpenAI's legacy text completions (/v1/completions) over Engine.generate: a prompt string continued
// as plain text (no chat template). Its sampling fields are the chat request's, checked by the same
// code (checkRequest); the fields only this API has are honoured or refused here by name.
import type { Engine } from '../api/engine.js';
import { EngineOptionError } from '../api/errors.js';
import { type CompletionUsage, finishReason, type FinishReasonOpenAI, usage } from '../api/openai.js';
import { type ChatCompletionRequest, checkRequest } from '../api/request.js';

export interface CompletionRequest extends Omit<ChatCompletionRequest, 'messages'> {
  /** one string, or a list of one string */
  prompt: string | string[];
}

export interface TextCompletion {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  choices: { index: number; text: string; logprobs: null; finish_reason: FinishReasonOpenAI | null }[];
  /** whole replies, and the last chunk of a stream with stream_options.include_usage */
  usage?: CompletionUsage | null;
}

/** Fields of the legacy API webmoe cannot honour, and why. */
const REFUSED: Record<string, string> = {
  echo: 'is not supported: the reply holds the completion only',
  best_of: 'is not supported: ask for n completions and pick',
  suffix: 'is not supported: webmoe does not fill in the middle',
  logprobs: 'is not supported on /v1/completions: use /v1/chat/completions with logprobs: true',
  user: 'is not supported: webmoe sends nothing to a service',
};

const FIELDS = new Set(['prompt', 'model', 'stream', 'stream_options', 'n', 'max_tokens', 'temperature', 'top_p', 'seed', 'stop', 'frequency_penalty',
  'presence_penalty', 'logit_bias', 'routing']);

/** OpenAI's default max_tokens for text completions (chat's is the engine's). */
const MAX_TOKENS = 16;

let nextId = 0;

/** The checked request: its prompt, generate() options, n and whether a stream ends with usage; throws EngineOptionError naming a field. */
function check(r: CompletionRequest, model: string) {
  for (const [key, value] of Object.entries(r)) {
    if (value === null || value === undefined) continue; // null is OpenAI's "the default"
    if (REFUSED[key]) throw new EngineOptionError(key, REFUSED[key]);
    if (!FIELDS.has(key)) throw new EngineOptionError(key, 'is not a text completion field webmoe knows');
  }
  const { prompt, ...rest } = r;
  const text = Array.isArray(prompt) && prompt.length === 1 ? prompt[0] : prompt;
  if (typeof text !== 'string') {
    const got = Array.isArray(prompt) ? `a list of ${prompt.length} ${prompt.length === 1 ? typeof prompt[0] : 'items'}` : typeof prompt;
    throw new EngineOptionError('prompt', `must be a string or a list of one string (one prompt a request), got ${got}`);
  }
  // The sampling fields are the chat request's: its checks, on a one-message conversation that only carries them.
  const { options, n, includeUsage } = checkRequest({ ...rest, max_tokens: rest.max_tokens ?? MAX_TOKENS, messages: [{ role: 'user', content: text }] }, model);
  return { prompt: text, options, n, includeUsage };
}

/**
 * The chunks of a text completion (a stream's, or, gathered, a whole reply's; `withUsage`: a last
 * chunk with usage whatever the request says); throws at once on a field it cannot honour.
 */
export function textCompletion(engine: Pick<Engine, 'generate' | 'model'>, request: CompletionRequest, signal?: AbortSignal,
  withUsage = false): AsyncGenerator<TextCompletion>
{
  const { prompt, options, n, includeUsage } = check(request, engine.model);
  return (async function*() {
    const base = { id: `cmpl-${Date.now().toString(36)}-${nextId++}`, object: 'text_completion' as const, created: Math.floor(Date.now() / 1000),
      model: engine.model };
    let promptTokens = 0;
    let completionTokens = 0;
    let last: CompletionUsage | undefined;
    for (let index = 0; index < n; index++) {
      // n choices: one call each, the seed (when given) stepped so that sampled choices differ (as chat's).
      const seed = options.seed === undefined ? undefined : options.seed + index;
      for await (const c of engine.generate(prompt, { ...options, seed, signal })) {
        if (c.stats) {
          promptTokens = c.stats.promptTokens;
          completionTokens += c.stats.completionTokens;
          last = usage(promptTokens, completionTokens, c.stats);
        }
        yield { ...base, choices: [{ index, text: c.text, logprobs: null, finish_reason: c.stats ? finishReason(c.stats) : null }] };
      }
    }
    if (includeUsage || withUsage) yield { ...base, choices: [], usage: last };
  })();
}

/** A whole reply: the chunks' text joined per choice, with usage. */
export async function gatherCompletion(engine: Pick<Engine, 'generate' | 'model'>, request: CompletionRequest, signal?: AbortSignal): Promise<TextCompletion> {
  const chunks = textCompletion(engine, request, signal, true);
  const choices: TextCompletion['choices'] = [];
  let last!: TextCompletion;
  for await (const c of chunks) {
    last = c;
    for (const { index, text, finish_reason } of c.choices) {
      choices[index] ??= { index, text: '', logprobs: null, finish_reason: null };
      choices[index].text += text;
      choices[index].finish_reason = finish_reason ?? choices[index].finish_reason;
    }
  }
  return { ...last, choices };
}
