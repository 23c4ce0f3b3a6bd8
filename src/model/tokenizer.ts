// Text ↔ token ids for a Hub model: tokenizer.json through @huggingface/tokenizers, the chat
// template through @huggingface/jinja, and an incremental detokenizer for streamed output.
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool' | string;
  /** null in an assistant message that only calls tools (DeepSeek-V3's template tests `content is none`) */
  content: string | null;
  /** An assistant's calls, in the OpenAI/transformers shape; arguments as the template expects them. */
  tool_calls?: { type?: 'function'; id?: string; function: { name: string; arguments: string | Record<string, unknown> } }[];
  /** A tool message's call id and tool name, for templates that print them. */
  tool_call_id?: string;
  name?: string;
}

/** A tool the model may call, as transformers passes `tools` to a chat template (a JSON schema). */
export interface ChatTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
}

export interface ChatTemplateOptions {
  /** End with the assistant turn's header (default true). */
  addGenerationPrompt?: boolean;
  /** The tools, given to the template as `tools` where it supports them. */
  tools?: ChatTool[];
  /** More template variables, as apply_chat_template's keyword arguments (enable_thinking, reasoning_effort, …). */
  variables?: Record<string, unknown>;
}

/** Incremental detokenizer: push(id) returns the text that token completes, flush() the rest. */
export interface TextStream {
  push(id: number): string;
  flush(): string;
}

/** The model has no chat template, or its template fails to parse or render. */
export class ChatTemplateError extends Error {
  override name = 'ChatTemplateError';
}

/** The special tokens transformers hands a chat template (its special_tokens_map). */
const TEMPLATE_TOKENS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'];

const reason = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** tokenizer.json or tokenizer_config.json cannot make a tokenizer: the message names the file and the problem. */
export class TokenizerError extends Error {
  override name = 'TokenizerError';
}

/**
 * The tokenizer models @huggingface/tokenizers builds, with what each one's vocabulary is. An unknown
 * type would be guessed from the other keys (a "Foo" with merges becomes BPE): refused instead. A
 * missing type is guessed as the Rust library does (older files have none).
 */
const MODELS: Record<string, { vocab: 'object' | 'array'; merges?: boolean }> = {
  BPE: { vocab: 'object', merges: true },
  WordPiece: { vocab: 'object' },
  Unigram: { vocab: 'array' },
};

/** The shape of tokenizer.json's model, checked where the library would fail with a bare TypeError. */
function checkModel(json: object): void {
  const fail = (problem: string): never => {
    throw new TokenizerError(`webmoe: tokenizer.json: ${problem}`);
  };
  const model = (json as { model?: unknown }).model;
  if (typeof model !== 'object' || model === null || Array.isArray(model)) fail(`model must be an object, got ${JSON.stringify(model)}`);
  const { type, vocab, merges } = model as { type?: unknown; vocab?: unknown; merges?: unknown };
  if (type === undefined) return;
  const want = typeof type === 'string' ? MODELS[type] : undefined;
  if (!want) fail(`model type ${JSON.stringify(type)} is not supported (${Object.keys(MODELS).join(', ')})`);
  const isArray = Array.isArray(vocab);
  if (typeof vocab !== 'object' || vocab === null || isArray !== (want!.vocab === 'array')) {
    fail(`model.vocab of a ${String(type)} model must be ${want!.vocab === 'array' ? 'an array' : 'an object'}, got ${JSON.stringify(vocab)?.slice(0, 80)}`);
  }
  if (want!.merges && !Array.isArray(merges)) fail(`model.merges of a BPE model must be an array, got ${JSON.stringify(merges)?.slice(0, 80)}`);
}

/** A special token of tokenizer_config.json: a string or a serialised AddedToken {content, …}. */
function tokenText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  const content = (value as { content?: unknown } | null)?.content;
  return typeof content === 'string' ? content : undefined;
}

/**
 * Whether encode() adds BOS / EOS when tokenizer_config's class is Llama's: transformers'
 * LlamaTokenizerFast replaces tokenizer.json's post-processor by add_bos_token (default true) and
 * add_eos_token (default false). DeepSeek-V2/V3's tokenizer.json adds nothing; their config adds BOS.
 */
function llamaSpecials(config: Record<string, unknown>): { bos: boolean; eos: boolean } | undefined {
  if (config.tokenizer_class !== 'LlamaTokenizer' && config.tokenizer_class !== 'LlamaTokenizerFast') return undefined;
  return { bos: config.add_bos_token !== false, eos: config.add_eos_token === true };
}

/** chat_template.jinja when the repo has one, else tokenizer_config's template (or its 'default' one of a list). */
function templateSource(config: Record<string, unknown>, chatTemplate?: string): string | undefined {
  if (chatTemplate !== undefined) return chatTemplate;
  const t = config.chat_template;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    const named = t.find((x: { name?: unknown } | null) => x?.name === 'default') as { template?: unknown } | undefined;
    if (typeof named?.template === 'string') return named.template;
  }
  return undefined;
}

/** How tokens spell bytes, as grammar-constrained decoding (xgrammar) names it. */
export type VocabularyType = 'byte_level' | 'byte_fallback' | 'raw';

/** The types of a component of tokenizer.json and of those a Sequence of it holds. */
function componentTypes(c: unknown): { type?: unknown; [key: string]: unknown }[] {
  if (typeof c !== 'object' || c === null) return [];
  const o = c as { type?: unknown; [key: string]: unknown };
  const inner = ['decoders', 'normalizers', 'pretokenizers'].flatMap((k) => (Array.isArray(o[k]) ? o[k] as unknown[] : []));
  return [o, ...inner.flatMap(componentTypes)];
}

/** A tokenizer.json's byte spelling (its decoder's) and whether its encoding prepends a space (SentencePiece's ▁). */
function vocabularyKind(json: Record<string, unknown>): { type: VocabularyType; prependSpace: boolean } {
  const decoders = componentTypes(json.decoder).map((d) => d.type);
  const type = decoders.includes('ByteLevel') ? 'byte_level' : decoders.includes('ByteFallback') ? 'byte_fallback' : 'raw';
  const prepend = componentTypes(json.normalizer).some((n) => n.type === 'Prepend' && n.prepend === '\u2581')
    || componentTypes(json.pre_tokenizer).some((p) =>
      p.type === 'Metaspace' && (p.prepend_scheme === 'always' || p.prepend_scheme === 'first' || p.add_prefix_space === true)
    );
  return { type, prependSpace: prepend };
}

export class TextTokenizer {
  readonly bosToken?: string;
  readonly eosToken?: string;
  readonly bosId?: number;
  readonly hasChatTemplate: boolean;
  private readonly eosId?: number;
  private readonly llamaSpecials?: { bos: boolean; eos: boolean };
  private readonly templateTokens: Record<string, string> = {};
  private readonly source?: string;
  private template?: Template;
  private readonly cleanUpSpaces: boolean;

  private constructor(
    private readonly tokenizer: Tokenizer,
    config: Record<string, unknown>,
    chatTemplate: string | undefined,
    private readonly kind: { type: VocabularyType; prependSpace: boolean },
  ) {
    for (const key of TEMPLATE_TOKENS) {
      const text = tokenText(config[key]);
      if (text !== undefined) this.templateTokens[key] = text;
    }
    this.bosToken = this.templateTokens.bos_token;
    this.eosToken = this.templateTokens.eos_token;
    this.bosId = this.bosToken === undefined ? undefined : tokenizer.token_to_id(this.bosToken);
    this.eosId = this.eosToken === undefined ? undefined : tokenizer.token_to_id(this.eosToken);
    this.source = templateSource(config, chatTemplate);
    this.hasChatTemplate = this.source !== undefined;
    // Off unless asked for, as in transformers ≥ 4.45; the library's default (on) turns " ." into "."
    // and breaks both round trips and streaming.
    this.cleanUpSpaces = config.clean_up_tokenization_spaces === true;
    this.llamaSpecials = llamaSpecials(config);
    for (const [add, id, key] of [[this.llamaSpecials?.bos, this.bosId, 'bos'], [this.llamaSpecials?.eos, this.eosId, 'eos']] as const) {
      if (add && id === undefined) throw new TokenizerError(`webmoe: tokenizer_config.json has add_${key}_token but no ${key}_token in the vocabulary`);
    }
  }

  /**
   * From the parsed tokenizer.json and tokenizer_config.json; `chatTemplate` is chat_template.jinja
   * when the repo has one (it wins over tokenizer_config's chat_template).
   */
  static fromJSON(tokenizerJson: object, tokenizerConfig: object, chatTemplate?: string): TextTokenizer {
    if (typeof tokenizerJson !== 'object' || tokenizerJson === null || Array.isArray(tokenizerJson)) {
      throw new TokenizerError(`webmoe: tokenizer.json must be an object, got ${JSON.stringify(tokenizerJson)?.slice(0, 80)}`);
    }
    checkModel(tokenizerJson);
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    } catch (e) {
      throw new TokenizerError(`webmoe: tokenizer.json cannot be loaded: ${reason(e)}`, { cause: e });
    }
    return new TextTokenizer(tokenizer, tokenizerConfig as Record<string, unknown>, chatTemplate, vocabularyKind(tokenizerJson as Record<string, unknown>));
  }

  /** The ids that end generation: the model config's eos_token_id (one or a list) and the tokenizer's EOS. */
  eosIds(modelConfig?: { eos_token_id?: number | number[] }): Set<number> {
    const ids = new Set([modelConfig?.eos_token_id ?? []].flat());
    if (this.eosId !== undefined) ids.add(this.eosId);
    return ids;
  }

  /** Ids of a plain prompt, with the special tokens (BOS) the post-processor adds, as HF `tokenizer(text)`. */
  encode(text: string, options: { addSpecialTokens?: boolean } = {}): number[] {
    const add = options.addSpecialTokens ?? true;
    const llama = this.llamaSpecials;
    if (!llama) return this.tokenizer.encode(text, { add_special_tokens: add }).ids;
    const ids = this.tokenizer.encode(text, { add_special_tokens: false }).ids;
    if (!add) return ids;
    return [...(llama.bos ? [this.bosId!] : []), ...ids, ...(llama.eos ? [this.eosId!] : [])];
  }

  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    // The library rejects an empty list.
    if (ids.length === 0) return '';
    return this.tokenizer.decode(Array.from(ids), {
      skip_special_tokens: options.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: this.cleanUpSpaces,
    });
  }

  /**
   * Renders the chat template (with the generation prompt unless `addGenerationPrompt` is false)
   * and encodes it without the post-processor's special tokens, as transformers' apply_chat_template.
   */
  applyChatTemplate(messages: ChatMessage[], options: ChatTemplateOptions = {}): { text: string; ids: number[] } {
    const template = this.compiled();
    let text: string;
    try {
      text = template.render({
        ...this.templateTokens,
        ...options.variables,
        messages,
        // Absent, not empty, without tools: templates test `if tools`, and some `tools is not none`.
        ...(options.tools && { tools: options.tools }),
        add_generation_prompt: options.addGenerationPrompt ?? true,
      });
    } catch (e) {
      throw new ChatTemplateError(`webmoe: the chat template failed to render: ${reason(e)}`, { cause: e });
    }
    // As transformers: the template writes every special token it wants (a BOS included), so the
    // post-processor adds none; adding them would double the BOS of most templates.
    return { text, ids: this.encode(text, { addSpecialTokens: false }) };
  }

  /** The chat template's source (chat_template.jinja or tokenizer_config's), if any. */
  get chatTemplate(): string | undefined {
    return this.source;
  }

  /**
   * The vocabulary as grammar-constrained decoding needs it: `size` entries (the model's vocabulary,
   * which may be larger), each id's token as stored, '' for special tokens and unused ids (never
   * text: a grammar must not match a `<|im_end|>` inside a JSON string); how tokens spell bytes; and
   * whether encoding prepends a space.
   */
  vocabulary(size: number): { tokens: string[]; type: VocabularyType; prependSpace: boolean } {
    const tokens = new Array<string>(size).fill('');
    for (const [token, id] of this.tokenizer.get_vocab(true)) if (id < size) tokens[id] = token;
    for (const [id, added] of this.tokenizer.get_added_tokens_decoder()) if (added.special && id < size) tokens[id] = '';
    return { tokens, ...this.kind };
  }

  /**
   * An incremental detokenizer whose deltas add up to decode() of all the pushed ids. Each push
   * decodes a short window (the last emitted tokens as context, then the new ones), and holds the
   * text back while it ends in U+FFFD: a UTF-8 character split over byte tokens is not complete yet.
   */
  stream(options: { skipSpecialTokens?: boolean } = {}): TextStream {
    let window: number[] = [];
    let emitted = 0; // window[0, emitted) is context already emitted; the rest is pending
    const pending = (): [string, string] => {
      const done = this.decode(window.slice(0, emitted), options);
      return [done, this.decode(window, options)];
    };
    return {
      push: (id) => {
        window.push(id);
        const [done, all] = pending();
        if (all.length <= done.length || all.endsWith('\uFFFD')) return '';
        window = window.slice(emitted);
        emitted = window.length;
        return all.slice(done.length);
      },
      flush: () => {
        const [done, all] = pending();
        window = [];
        emitted = 0;
        return all.slice(done.length);
      },
    };
  }

  private compiled(): Template {
    if (this.template) return this.template;
    if (this.source === undefined) {
      throw new ChatTemplateError(
        'webmoe: the model has no chat template (no chat_template.jinja and no chat_template in tokenizer_config.json); use a plain prompt',
      );
    }
    try {
      return (this.template = new Template(this.source));
    } catch (e) {
      throw new ChatTemplateError(`webmoe: the chat template does not parse: ${reason(e)}`, { cause: e });
    }
  }
}
