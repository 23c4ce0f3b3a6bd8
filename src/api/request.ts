// A chat completion request, checked field by field and turned into generate()'s conversation and
// options. A field is honoured or refused with an EngineOptionError naming it (and why): an app that
// sends what webmoe cannot do learns it at once instead of getting a reply that silently ignored it.
import type { GrammarSpec } from '../model/grammar.js';
import type { ChatMessage, ChatTool } from '../model/tokenizer.js';
import type { GenerateOptions } from './engine.js';
import { EngineOptionError, positiveInteger, stopStrings } from './errors.js';

/** A part of a message's content: text parts are joined; any other kind is refused. */
export type ContentPart = { type: 'text'; text: string } | { type: string; [key: string]: unknown };

export interface ChatCompletionMessageParam {
  /** 'system', 'developer' (read as 'system'), 'user', 'assistant' or 'tool' */
  role: string;
  /** null or absent only in an assistant message that calls tools */
  content?: string | ContentPart[] | null;
  name?: string;
  tool_calls?: { id: string; type: 'function'; function: { name: string; arguments: string } }[];
  tool_call_id?: string;
}

export type ResponseFormat =
  | { type: 'text' }
  /** WebLLM's `schema` (a JSON schema as a string) is taken too */
  | { type: 'json_object'; schema?: string }
  | { type: 'json_schema'; json_schema: { name: string; schema?: Record<string, unknown>; strict?: boolean | null } }
  /** WebLLM's: an EBNF grammar (xgrammar's dialect) the output must match */
  | { type: 'grammar'; grammar: string };

export type ToolChoice = 'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } };

export interface ChatCompletionRequest {
  messages: ChatCompletionMessageParam[];
  /** the engine's model (engine.model), if given */
  model?: string | null;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean | null } | null;
  n?: number | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  seed?: number | null;
  stop?: string | string[] | null;
  frequency_penalty?: number | null;
  presence_penalty?: number | null;
  logit_bias?: Record<string, number> | null;
  logprobs?: boolean | null;
  top_logprobs?: number | null;
  /** WebLLM's: transformers' repetition penalty */
  repetition_penalty?: number | null;
  response_format?: ResponseFormat | null;
  tools?: ChatTool[] | null;
  tool_choice?: ToolChoice | null;
  parallel_tool_calls?: boolean | null;
  /** passed to the chat template as `reasoning_effort` (gpt-oss's) */
  reasoning_effort?: 'minimal' | 'low' | 'medium' | 'high' | null;
  /** webmoe: AbortSignal of the request */
  signal?: AbortSignal;
}

/** OpenAI fields webmoe cannot honour, and why. */
const REFUSED: Record<string, string> = {
  audio: 'is not supported: webmoe generates text only',
  modalities: 'is not supported: webmoe generates text only',
  functions: 'is deprecated: use tools',
  function_call: 'is deprecated: use tool_choice',
  prediction: 'is not supported (predicted outputs)',
  web_search_options: 'is not supported: webmoe has no web search',
  store: 'is not supported: webmoe stores no completions',
  metadata: 'is not supported: webmoe stores no completions',
  service_tier: 'is not supported: webmoe runs on this device, with no service tiers',
  user: 'is not supported: webmoe sends nothing to a service',
  safety_identifier: 'is not supported: webmoe sends nothing to a service',
  prompt_cache_key: 'is not supported: the KV cache is the engine\'s own',
  prompt_cache_retention: 'is not supported: the KV cache is the engine\'s own',
  prompt_cache_options: 'is not supported: the KV cache is the engine\'s own',
  verbosity: 'is not supported: no model webmoe runs takes it',
  moderation: 'is not supported: webmoe moderates nothing',
};

const HONOURED = new Set([
  'messages',
  'model',
  'stream',
  'stream_options',
  'n',
  'max_tokens',
  'max_completion_tokens',
  'temperature',
  'top_p',
  'seed',
  'stop',
  'frequency_penalty',
  'presence_penalty',
  'logit_bias',
  'logprobs',
  'top_logprobs',
  'repetition_penalty',
  'response_format',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'reasoning_effort',
  'signal',
]);

const MESSAGE_KEYS = new Set(['role', 'content', 'name', 'tool_calls', 'tool_call_id']);
const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool']);

const fail = (field: string, problem: string): never => {
  throw new EngineOptionError(field, problem);
};
const show = (v: unknown) => JSON.stringify(v) ?? String(v);

/** `v`, a number in [lo, hi] (in (lo, hi] when `openLow`). */
function numberIn(field: string, v: number, lo: number, hi: number, openLow = false): number {
  if (typeof v !== 'number' || !((openLow ? v > lo : v >= lo) && v <= hi)) {
    fail(field, `must be a number in ${openLow ? '(' : '['}${lo}, ${hi}], got ${show(v)}`);
  }
  return v;
}

/** A message's content as one string: text parts joined by newlines (as vLLM does); null stays null. */
function contentText(i: number, content: ChatCompletionMessageParam['content']): string | null {
  if (content === undefined || content === null || typeof content === 'string') return content ?? null;
  if (!Array.isArray(content)) return fail(`messages[${i}].content`, `must be a string or a list of content parts, got ${show(content)}`);
  return content.map((part, j) => {
    if (part?.type !== 'text' || typeof part.text !== 'string') {
      fail(`messages[${i}].content[${j}]`, `is a ${show(part?.type)} part: webmoe takes text parts only`);
    }
    return part.text as string;
  }).join('\n');
}

function message(m: ChatCompletionMessageParam, i: number): ChatMessage {
  if (typeof m !== 'object' || m === null) fail(`messages[${i}]`, `must be an object, got ${show(m)}`);
  for (const key of Object.keys(m)) if (!MESSAGE_KEYS.has(key)) fail(`messages[${i}].${key}`, 'is not supported');
  if (!ROLES.has(m.role)) fail(`messages[${i}].role`, `must be one of ${[...ROLES].join(', ')}, got ${show(m.role)}`);
  const content = contentText(i, m.content);
  if (content === null && !(m.role === 'assistant' && m.tool_calls?.length)) {
    fail(`messages[${i}].content`, 'is missing (only an assistant message that calls tools may have none)');
  }
  if (m.tool_calls !== undefined && m.role !== 'assistant') fail(`messages[${i}].tool_calls`, 'belongs to an assistant message');
  if (m.role === 'tool' && typeof m.tool_call_id !== 'string') fail(`messages[${i}].tool_call_id`, 'is needed in a tool message');
  // The chat templates know 'system'; OpenAI's newer 'developer' role plays its part.
  const out: ChatMessage = { role: m.role === 'developer' ? 'system' : m.role, content };
  if (m.name !== undefined) out.name = m.name;
  if (m.tool_call_id !== undefined) out.tool_call_id = m.tool_call_id;
  if (m.tool_calls) {
    out.tool_calls = m.tool_calls.map((c, j) => {
      if (c?.type !== 'function' || typeof c.function?.name !== 'string' || typeof c.function.arguments !== 'string') {
        fail(`messages[${i}].tool_calls[${j}]`, `must be { id, type: 'function', function: { name, arguments } }, got ${show(c)}`);
      }
      // Templates print arguments as a mapping (tojson, items()): OpenAI sends them as a JSON string.
      let args: Record<string, unknown>;
      try {
        args = JSON.parse(c.function.arguments) as Record<string, unknown>;
      } catch {
        return fail(`messages[${i}].tool_calls[${j}].function.arguments`, `is not JSON: ${c.function.arguments}`);
      }
      return { type: 'function', id: c.id, function: { name: c.function.name, arguments: args } };
    });
  }
  return out;
}

/** A tool as the chat templates take it: { type: 'function', function: { name, description?, parameters? } }. */
function checkTool(t: ChatTool, i: number): void {
  if (t?.type !== 'function' || typeof t.function?.name !== 'string') {
    fail(`tools[${i}]`, `must be { type: 'function', function: { name, … } }, got ${show(t)}`);
  }
  for (const key of Object.keys(t.function)) {
    if (key === 'strict') fail(`tools[${i}].function.strict`, 'is not supported: webmoe does not constrain tool arguments');
    if (!['name', 'description', 'parameters'].includes(key)) fail(`tools[${i}].function.${key}`, 'is not supported');
  }
}

/** The grammar a response_format asks for (none for text). */
function responseGrammar(f: ResponseFormat): GrammarSpec | undefined {
  const fields = (allowed: string[]) => {
    for (const key of Object.keys(f)) if (!allowed.includes(key)) fail(`response_format.${key}`, `is not a field of a ${show(f.type)} format`);
  };
  switch (f.type) {
    case 'text':
      fields(['type']);
      return undefined;
    case 'json_object':
      fields(['type', 'schema']);
      return f.schema === undefined ? { type: 'json' } : { type: 'json_schema', schema: f.schema };
    case 'json_schema': {
      fields(['type', 'json_schema']);
      const j = f.json_schema;
      if (typeof j !== 'object' || j === null) return fail('response_format.json_schema', `must be { name, schema, strict }, got ${show(j)}`);
      // name only names the format; strict or not, the output matches the schema (as strict: no properties it does not name).
      for (const key of Object.keys(j)) {
        if (key === 'description') fail('response_format.json_schema.description', 'is not supported: webmoe does not show it to the model');
        if (!['name', 'schema', 'strict'].includes(key)) fail(`response_format.json_schema.${key}`, 'is not supported');
      }
      return j.schema === undefined ? { type: 'json' } : { type: 'json_schema', schema: j.schema };
    }
    case 'grammar':
      fields(['type', 'grammar']);
      if (typeof f.grammar !== 'string') fail('response_format.grammar', `must be an EBNF grammar (a string), got ${show(f.grammar)}`);
      return { type: 'ebnf', grammar: f.grammar };
    default:
      return fail('response_format.type', `must be text, json_object, json_schema or grammar, got ${show((f as { type: unknown }).type)}`);
  }
}

type Given = { [K in keyof ChatCompletionRequest]?: NonNullable<ChatCompletionRequest[K]> };

export interface CheckedRequest {
  messages: ChatMessage[];
  options: GenerateOptions;
  n: number;
  includeUsage: boolean;
  /** false: only the first tool call is returned */
  parallelToolCalls: boolean;
}

/** The request's conversation and generate() options; throws EngineOptionError on the first field it cannot honour. */
export function checkRequest(r: ChatCompletionRequest, model: string): CheckedRequest {
  if (typeof r !== 'object' || r === null) fail('request', `must be an object, got ${show(r)}`);
  // null is OpenAI's "the default": as if absent.
  const given = Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined && v !== null)) as Given;
  for (const key of Object.keys(given)) {
    if (REFUSED[key]) fail(key, REFUSED[key]);
    if (!HONOURED.has(key)) fail(key, 'is not a chat completion field webmoe knows');
  }
  if (!Array.isArray(r.messages) || r.messages.length === 0) fail('messages', `must be a non-empty list, got ${show(r.messages)}`);
  if (given.model !== undefined && given.model !== model) fail('model', `is ${show(given.model)}, but this engine runs ${show(model)}`);
  const streamOptions = given.stream_options ?? {};
  for (const key of Object.keys(streamOptions)) if (key !== 'include_usage') fail(`stream_options.${key}`, 'is not supported');
  if (given.stream_options && !given.stream) fail('stream_options', 'needs stream: true');
  if (given.max_tokens !== undefined && given.max_completion_tokens !== undefined) fail('max_tokens', 'and max_completion_tokens are both given: give one');
  const maxTokens = given.max_completion_tokens ?? given.max_tokens;
  if (given.top_logprobs !== undefined && !given.logprobs) fail('top_logprobs', 'needs logprobs: true');
  if (given.top_logprobs !== undefined && !(Number.isInteger(given.top_logprobs) && given.top_logprobs >= 0 && given.top_logprobs <= 20)) {
    fail('top_logprobs', `must be an integer in 0…20, got ${show(given.top_logprobs)}`);
  }
  if (given.seed !== undefined && !Number.isSafeInteger(given.seed)) fail('seed', `must be an integer, got ${show(given.seed)}`);
  if (given.logit_bias !== undefined && (typeof given.logit_bias !== 'object' || Array.isArray(given.logit_bias))) {
    fail('logit_bias', `must map token ids to numbers, got ${show(given.logit_bias)}`);
  }
  const logitBias = given.logit_bias && Object.fromEntries(Object.entries(given.logit_bias).map(([id, b]) => {
    if (!/^\d+$/.test(id)) fail('logit_bias', `keys must be token ids, got ${show(id)}`);
    return [id, numberIn(`logit_bias[${id}]`, b, -100, 100)];
  }));
  const grammar = given.response_format && responseGrammar(given.response_format);
  if (grammar && given.tools && given.tool_choice !== 'none') fail('response_format', 'and tools cannot both shape the output: give one');
  const toolChoice = given.tool_choice ?? 'auto';
  if (toolChoice !== 'auto' && toolChoice !== 'none') {
    fail('tool_choice', `${show(toolChoice)} is not supported: 'auto' or 'none' (webmoe cannot force a call)`);
  }
  given.tools?.forEach(checkTool);
  const options: GenerateOptions = {
    maxTokens: maxTokens === undefined ? undefined : positiveInteger(given.max_tokens === undefined ? 'max_completion_tokens' : 'max_tokens', maxTokens),
    stop: given.stop === undefined ? undefined : stopStrings('stop', given.stop),
    temperature: given.temperature === undefined ? 1 : numberIn('temperature', given.temperature, 0, 2),
    topP: given.top_p === undefined ? undefined : numberIn('top_p', given.top_p, 0, 1, true),
    seed: given.seed,
    frequencyPenalty: given.frequency_penalty === undefined ? undefined : numberIn('frequency_penalty', given.frequency_penalty, -2, 2),
    presencePenalty: given.presence_penalty === undefined ? undefined : numberIn('presence_penalty', given.presence_penalty, -2, 2),
    logitBias,
    repetitionPenalty: given.repetition_penalty === undefined || (given.repetition_penalty > 0 && Number.isFinite(given.repetition_penalty))
      ? given.repetition_penalty
      : fail('repetition_penalty', `must be a finite number > 0, got ${show(given.repetition_penalty)}`),
    logprobs: given.logprobs,
    topLogprobs: given.top_logprobs,
    grammar,
    // 'none': the model is not told of the tools, so it calls none.
    tools: toolChoice === 'none' ? undefined : given.tools,
    templateVariables: given.reasoning_effort === undefined ? undefined : { reasoning_effort: given.reasoning_effort },
    signal: given.signal,
  };
  return {
    messages: r.messages.map(message),
    options,
    n: given.n === undefined ? 1 : positiveInteger('n', given.n),
    includeUsage: given.stream_options?.include_usage === true,
    parallelToolCalls: given.parallel_tool_calls ?? true,
  };
}
