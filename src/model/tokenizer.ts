// Text ↔ token ids for a Hub model: tokenizer.json through @huggingface/tokenizers, the chat
// template through @huggingface/jinja, and an incremental detokenizer for streamed output.
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | string;
  content: string;
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

/** A special token of tokenizer_config.json: a string or a serialised AddedToken {content, …}. */
function tokenText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  const content = (value as { content?: unknown } | null)?.content;
  return typeof content === 'string' ? content : undefined;
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

export class TextTokenizer {
  readonly bosToken?: string;
  readonly eosToken?: string;
  readonly bosId?: number;
  readonly hasChatTemplate: boolean;
  private readonly eosId?: number;
  private readonly templateTokens: Record<string, string> = {};
  private readonly source?: string;
  private template?: Template;
  private readonly cleanUpSpaces: boolean;

  private constructor(private readonly tokenizer: Tokenizer, config: Record<string, unknown>, chatTemplate?: string) {
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
  }

  /**
   * From the parsed tokenizer.json and tokenizer_config.json; `chatTemplate` is chat_template.jinja
   * when the repo has one (it wins over tokenizer_config's chat_template).
   */
  static fromJSON(tokenizerJson: object, tokenizerConfig: object, chatTemplate?: string): TextTokenizer {
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    } catch (e) {
      throw new Error(`webmoe: tokenizer.json cannot be loaded: ${reason(e)}`, { cause: e });
    }
    return new TextTokenizer(tokenizer, tokenizerConfig as Record<string, unknown>, chatTemplate);
  }

  /** The ids that end generation: the model config's eos_token_id (one or a list) and the tokenizer's EOS. */
  eosIds(modelConfig?: { eos_token_id?: number | number[] }): Set<number> {
    const ids = new Set([modelConfig?.eos_token_id ?? []].flat());
    if (this.eosId !== undefined) ids.add(this.eosId);
    return ids;
  }

  /** Ids of a plain prompt, with the special tokens (BOS) the post-processor adds, as HF `tokenizer(text)`. */
  encode(text: string, options: { addSpecialTokens?: boolean } = {}): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids;
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
  applyChatTemplate(messages: ChatMessage[], options: { addGenerationPrompt?: boolean } = {}): { text: string; ids: number[] } {
    const template = this.compiled();
    let text: string;
    try {
      text = template.render({ ...this.templateTokens, messages, add_generation_prompt: options.addGenerationPrompt ?? true });
    } catch (e) {
      throw new ChatTemplateError(`webmoe: the chat template failed to render: ${reason(e)}`, { cause: e });
    }
    // As transformers: the template writes every special token it wants (a BOS included), so the
    // post-processor adds none; adding them would double the BOS of most templates.
    return { text, ids: this.encode(text, { addSpecialTokens: false }) };
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
