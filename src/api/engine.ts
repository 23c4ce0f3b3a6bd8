// The engine users hold: a loaded model (decoder on the GPU, tokenizer, chat template) and
// generation as an async iterator of text deltas. Concurrent generations decode together, each in a
// sequence (KV slot) of its own, up to `maxSequences` at once; more wait their turn (admission.ts,
// batcher.ts). A call prefills only what its prompt does not share with the tokens its sequence holds,
// and an aborted or failed call leaves the cache holding what is valid, ready for the next. dispose()
// frees the GPU memory at once: a call running then stops before its next GPU submit, and every later
// call throws. A lost device ends the engine the same way, with DeviceLostError.
import { type Checkpoint, type LoadProgress, openCheckpoint } from '../io/checkpoint.js';
import type { ModelSource } from '../io/source.js';
import { type ModelConfig, moeConfigOf, sparseLayers } from '../model/config.js';
import type { Decoder } from '../model/decoder.js';
import type { Family } from '../model/families/family.js';
import { readConfig } from '../model/families/registry.js';
import { type DecoderLoadOptions, loadDecoder } from '../model/load.js';
import { GpuSampler } from '../model/gpuSampling.js';
import { Grammars, type GrammarSpec, type TokenMatcher } from '../model/grammar.js';
import { logprobs, type TokenLogprob } from '../model/logprobs.js';
import { Sampler, type SamplingOptions } from '../model/sampling.js';
import { type ParsedToolCall, parseToolCalls, toolCallFormat } from '../model/toolCalls.js';
import { Sequence } from '../model/sequence.js';
import { type ChatMessage, type ChatTool, TextTokenizer } from '../model/tokenizer.js';
import { ExpertCoordinator, type ExpertParallelOptions } from '../moe/sharded/coordinator.js';
import { CachedExperts, type ExpertCacheOptions } from '../moe/cached/experts.js';
import { DeviceLostError, EngineDisposedError, EngineOptionError, positiveInteger, stopStrings } from './errors.js';
import { ChatCompletions } from './openai.js';
import { type ContextOverflow, ContextOverflowError, slideTurns } from './overflow.js';
import { type DecodeProfile, type FinishReason, GenerationClock, type GenerationStats } from './stats.js';
import { StreamedText } from './stops.js';
import { type RoutingStep, RoutingTrace } from './trace.js';
import { applyRouting, readRouting, type RoutingOptions, type RoutingStats } from './routing.js';
import { validateControls } from '../moe/spec.js';
import type { WeightStorage } from '../weights/format.js';
import { mapRead, stageRead } from '../gpu/workspace.js';
import { Admission, type Admitted } from './admission.js';
import { Batcher, type BatchTotals, type RowReader } from './batcher.js';

export { ContextOverflowError, DeviceLostError, EngineDisposedError, EngineOptionError };
export type { BatchTotals, DecodeProfile, FinishReason, GenerationStats, RoutingOptions, RoutingStats, RoutingStep };

export interface LoadModelOptions extends Omit<DecoderLoadOptions, 'experts'>, Partial<ExpertParallelOptions>, Partial<ExpertCacheOptions> {
  onProgress?: (p: LoadProgress) => void;
  /** Routing defaults of every call (as Engine.setRouting). */
  routing?: RoutingOptions;
}

/** What to continue: plain text, a conversation (rendered by the chat template), or token ids. */
export type Prompt = string | ChatMessage[] | { tokens: number[] };

export interface GenerateOptions extends SamplingOptions {
  /** Tokens to generate at most. Default 256. */
  maxTokens?: number;
  /** Generation ends before the first of these strings. */
  stop?: string | string[];
  signal?: AbortSignal;
  /** Attach each step's routing to its chunk and per-layer expert load to the stats. */
  trace?: boolean;
  /**
   * Where the next token is picked: 'gpu' (default) samples beside the forward and reads back only
   * the token id; 'cpu' reads the logits row back and samples there (the same choices, in float64).
   */
  sampling?: 'gpu' | 'cpu';
  /**
   * Keep the KV cache from call to call (default true): a call prefills only what follows the longest
   * common prefix of the cached tokens and its prompt. false: prefill the whole prompt.
   */
  reuseCache?: boolean;
  /** A prompt that leaves no room in the context: 'error' (default) or 'slide' (a conversation's oldest turns go). */
  contextOverflow?: ContextOverflow;
  /** Time where each decode step goes (stats.decodeProfile); waits for the queue before each readback, so off by default. */
  profile?: boolean;
  /** Attach to each chunk its tokens' log-probabilities under the model (the CPU sampling path). */
  logprobs?: boolean;
  /** With `logprobs`: also the log-probabilities of this many most likely tokens per step, 0 to 20. */
  topLogprobs?: number;
  /**
   * A conversation prompt: the tools, given to the chat template as `tools`. The model's calls, in
   * its template's syntax, are parsed out of the text: it comes whole on the last chunk, with them.
   */
  tools?: ChatTool[];
  /** A conversation prompt: more chat template variables (enable_thinking, reasoning_effort, …). */
  templateVariables?: Record<string, unknown>;
  /** Constrain the output to a grammar (any JSON object, a JSON schema, EBNF): a token mask per step (the CPU sampling path). */
  grammar?: GrammarSpec;
  /** Routing controls of this call, over the engine's defaults field by field (docs/routing.md). */
  routing?: RoutingOptions;
}

/** A generation's checked options and prompt (Engine.prepare). */
interface Call {
  ids: number[];
  /** tokens it may generate: maxTokens, or fewer where the context ends */
  budget: number;
  stops: string[];
  /** the caller's signal and the engine's lifetime */
  signal: AbortSignal;
  top: number;
  /** the CPU sampler, where the call samples there */
  cpu?: Sampler;
  toolFormat?: ReturnType<typeof toolCallFormat>;
  /** messages a sliding context dropped */
  dropped?: number;
}

/** A token's log-probability, with its text (special tokens included). */
export interface TextLogprob extends TokenLogprob {
  text: string;
}

export interface GenerationChunk {
  /** text added since the previous chunk (may be empty) */
  text: string;
  /** token ids this chunk stands for */
  tokens: number[];
  routing?: RoutingStep[];
  /** with `logprobs`: one per token of `tokens`, with the most likely alternatives in `top` */
  logprobs?: (TextLogprob & { top: TextLogprob[] })[];
  /** on the last chunk only, with `tools`: the calls the model made */
  toolCalls?: ParsedToolCall[];
  /** on the last chunk only */
  stats?: GenerationStats;
}

export class Engine {
  /** OpenAI-style chat completions (as WebLLM users know them). */
  readonly chat: { completions: ChatCompletions };
  /** Aborted by dispose() (EngineDisposedError) or the device's loss (DeviceLostError): the running calls' forwards check it. */
  private readonly lifetime = new AbortController();
  /** The decoder's sequences, one a KV slot: the tokens each holds. */
  private readonly sequences: Sequence[];
  private readonly admission: Admission;
  private readonly batcher: Batcher;
  /** Undoes the routing of the calls running (set as the first of them entered). */
  private restoreRouting?: () => void;
  /** Counts interruptGenerate()'s calls: a call running ends before its next token once it has changed. */
  private interrupts = 0;
  /** Numbers the calls: the text of the latest and the stats of the last to end (WebLLM's getMessage, runtimeStatsText). */
  private calls = 0;
  private message = '';
  private lastStats?: GenerationStats;
  /** The tokenizer's vocabulary prepared for grammars, on first use. */
  private grammars?: Grammars;
  /** The routing each sequence's KV cache was computed under (Decoder.cacheKey). */
  private readonly cachedUnder = new Map<Sequence, string | undefined>();
  /** Routing defaults of every call (setRouting). */
  private routing: RoutingOptions = {};

  private constructor(
    private readonly device: GPUDevice,
    readonly config: Readonly<ModelConfig>,
    readonly tokenizer: TextTokenizer | undefined,
    private readonly decoder: Decoder,
    /** a name for the model (the source's) */
    readonly model: string,
    /** the expert-parallel scheduler (load with `workers`): its placement and time stats */
    readonly experts?: ExpertCoordinator,
    /** the expert cache (load with `expertCacheBytes`): its stats() */
    readonly expertCache?: CachedExperts,
    /** how the routed experts' weights are stored (the routing stats' bytes per token) */
    private readonly expertStorage: WeightStorage = 'f32',
  ) {
    this.chat = { completions: new ChatCompletions(this) };
    this.sequences = Array.from({ length: decoder.slots }, (_, slot) => new Sequence(decoder, slot));
    this.admission = new Admission(this.sequences, () => {
      if (!this.disposed) this.restoreRouting?.(); // an ended engine's decoder has no buffers to write
      this.restoreRouting = undefined;
    });
    this.batcher = new Batcher(decoder.maxTokens, this.lifetime.signal);
    void device.lost.then((info) => this.end(new DeviceLostError(info.reason, info.message)));
  }

  /** Loads config.json, the safetensors weights and (when present) the tokenizer from `source`. */
  static async load(device: GPUDevice, source: ModelSource, options: LoadModelOptions = {}): Promise<Engine> {
    const ckpt: Checkpoint = await openCheckpoint(source, options.signal);
    const { family, config } = readConfig(ckpt.config);
    checkContextLength(options.contextLength, config);
    const tokenizer = await loadTokenizer(source, options.signal);
    const storage = config.expertStorage ?? options.dtype ?? 'f32';
    if (options.expertCacheBytes !== undefined) {
      if (options.workers !== undefined) {
        throw new EngineOptionError('expertCacheBytes', 'cannot be combined with workers (the expert cache runs the experts on this device): give one of them');
      }
      const cache = CachedExperts.create(device, moeConfigOf(config), sparseLayers(config), storage, { ...options,
        expertCacheBytes: options.expertCacheBytes });
      return (await Engine.loadCached(device, ckpt, family, config, cache, source.name, tokenizer, options)).withRouting(options.routing);
    }
    if (options.workers === undefined) {
      return new Engine(device, config, tokenizer, await loadDecoder(device, ckpt, family, config, options), source.name, undefined, undefined, storage)
        .withRouting(options.routing);
    }
    // Expert-parallel: the routed experts go to shard workers as the checkpoint streams (MXFP4 ones as they are).
    const experts = await ExpertCoordinator.start(device, moeConfigOf(config), sparseLayers(config), storage, {
      ...options,
      workers: options.workers,
    });
    try {
      const decoder = await loadDecoder(device, ckpt, family, config, { ...options, experts });
      return new Engine(device, config, tokenizer, decoder, source.name, experts, undefined, storage).withRouting(options.routing);
    } catch (e) {
      experts.dispose();
      throw e;
    }
  }

  /** An engine whose routed experts live in the expert cache `cache` (GPU slots under a budget, a host tier, the source). */
  private static async loadCached(device: GPUDevice, ckpt: Checkpoint, family: Family, config: ModelConfig, cache: CachedExperts, name: string,
    tokenizer: TextTokenizer | undefined, options: LoadModelOptions): Promise<Engine>
  {
    try {
      const decoder = await loadDecoder(device, ckpt, family, config, { ...options, experts: cache });
      if (options.tune ?? true) await cache.tune();
      return new Engine(device, config, tokenizer, decoder, name, undefined, cache, cache.dtype);
    } catch (e) {
      cache.dispose();
      throw e;
    }
  }

  get contextLength(): number {
    return this.decoder.contextLength;
  }

  /** How many generations decode together at most (the load's `maxSequences`, the decoder's KV slots). */
  get maxSequences(): number {
    return this.decoder.slots;
  }

  /** What the shared forwards carried since the engine loaded: forwards, sequences' parts (steps or prompt chunks), tokens. */
  get batchTotals(): Readonly<BatchTotals> {
    return { ...this.batcher.totals };
  }

  get disposed(): boolean {
    return this.lifetime.signal.aborted;
  }

  /** Logits of every position of `tokens` ([T][vocab]), by the same path as generation's prefill. */
  async logits(tokens: number[], o: { routing?: RoutingOptions } = {}): Promise<Float32Array[]> {
    const { seq, leave } = await this.alone(o.routing);
    try {
      seq.truncate(0);
      this.cachedUnder.set(seq, this.decoder.cacheKey());
      const flat = await seq.append(tokens, 'all', this.lifetime.signal);
      const V = this.config.vocab;
      return tokens.map((_, t) => flat.slice(t * V, (t + 1) * V));
    } catch (e) {
      throw await this.failure(e);
    } finally {
      leave();
    }
  }

  /**
   * Routing defaults of every later call (a call's `routing` overrides them field by field): k,
   * top-p, capacity, per-layer expert masks (docs/routing.md). Throws naming a bad option.
   */
  setRouting(o: RoutingOptions): void {
    this.checkOpen();
    validateControls(o, this.config.experts, 'routing.');
    applyRouting(this.decoder, o, {}, false)(); // checks the masks against each layer, then undoes
    this.routing = { ...o };
  }

  /** Disables the experts of MoE layer `layer` where `mask` is false/0, for every later call. */
  setExpertMask(layer: number, mask: ArrayLike<boolean | number>): void {
    this.checkOpen();
    this.decoder.setRouting(this.decoder.moeLayers().values().next().value?.controls() ?? {}, new Map([[layer, mask]]));
  }

  /** The routing telemetry of the latest call (per MoE layer and over the model; none for a dense model). */
  async routingStats(): Promise<RoutingStats | undefined> {
    this.checkOpen();
    return readRouting(this.device, this.decoder, this.config, this.expertStorage);
  }

  private withRouting(o: RoutingOptions | undefined): this {
    if (o) this.setRouting(o);
    return this;
  }

  /**
   * Token ids of a prompt: plain text with the tokenizer's BOS, or a conversation through the chat
   * template (with `tools` and `templateVariables`, which only a conversation takes).
   */
  encode(prompt: Prompt, chat: Pick<GenerateOptions, 'tools' | 'templateVariables'> = {}): number[] {
    this.checkOpen();
    if (!Array.isArray(prompt) && (chat.tools || chat.templateVariables)) {
      throw new EngineOptionError(chat.tools ? 'tools' : 'templateVariables', 'needs a conversation prompt (a list of messages)');
    }
    if (!Array.isArray(prompt) && typeof prompt === 'object') return prompt.tokens;
    const tok = this.needTokenizer();
    if (typeof prompt === 'string') return tok.encode(prompt);
    // An OpenAI reply that only calls tools has content null; Qwen's template reads content as a
    // string ('</think>' in content), so it gets '' there (DeepSeek's tests `content is none`).
    const messages = toolCallFormat(tok.chatTemplate) === 'hermes' ? prompt.map((m) => (m.content === null ? { ...m, content: '' } : m)) : prompt;
    return tok.applyChatTemplate(messages, { addGenerationPrompt: true, tools: chat.tools, variables: chat.templateVariables }).ids;
  }

  /** WebLLM's resetChat: forgets the conversations the KV cache holds, the last message and (unless `keepStats`) its stats. */
  async resetChat(keepStats = false): Promise<void> {
    const { leave } = await this.alone();
    for (const seq of this.sequences) seq.truncate(0);
    this.message = '';
    if (!keepStats) this.lastStats = undefined;
    leave();
  }

  /** WebLLM's interruptGenerate: the running calls end before their next token, as if done (finishReason 'abort'). */
  interruptGenerate(): void {
    this.interrupts++;
  }

  /** WebLLM's getMessage: the text of the running or last call. */
  async getMessage(): Promise<string> {
    return this.message;
  }

  /** WebLLM's runtimeStatsText: the last call's prefill and decode speed. */
  async runtimeStatsText(): Promise<string> {
    const s = this.lastStats;
    if (!s) return 'prefill: 0.0 tokens/sec, decoding: 0.0 tokens/sec';
    return `prefill: ${s.prefillTokensPerSecond.toFixed(1)} tokens/sec, decoding: ${s.decodeTokensPerSecond.toFixed(1)} tokens/sec`;
  }

  /**
   * Streams the continuation of `prompt`; the last chunk carries the stats. The engine is held until
   * the iterator ends: leaving a for-await early (break, return, throw) or calling `.return()` ends it;
   * an iterator dropped half-read without either holds the engine for good.
   */
  async *generate(prompt: Prompt, o: GenerateOptions = {}): AsyncGenerator<GenerationChunk> {
    this.checkOpen();
    let matcher: TokenMatcher | undefined;
    let leave: (() => void) | undefined;
    try {
      const call = this.prepare(prompt, o);
      if (o.grammar) {
        this.grammars ??= new Grammars(this.needTokenizer(), this.config.vocab, [...this.eosIds()]);
        matcher = await this.grammars.matcher(o.grammar);
      }
      const routing = { ...this.routing, ...o.routing, expertMask: { ...this.routing.expertMask, ...o.routing?.expertMask } };
      // A trace reads its rows of the forward's routing, a profile times whole forwards, and a
      // capacity factor routes by what else is in the batch: those calls run alone.
      const entry = await this.admission.enter({
        exclusive: o.trace === true || o.profile === true || (routing.capacityFactor ?? 0) > 0,
        key: JSON.stringify(routing, (_, v) => (ArrayBuffer.isView(v) ? Array.from(v as Uint8Array) : v)),
        score: (seq) => seq.commonPrefix(call.ids),
        begin: () => void (this.restoreRouting = applyRouting(this.decoder, this.routing, o.routing)),
        signal: call.signal,
      });
      leave = entry.leave;
      yield* this.run(call, entry.seq, o, matcher);
    } catch (e) {
      throw await this.failure(e);
    } finally {
      matcher?.dispose();
      leave?.();
    }
  }

  /**
   * Frees the model's GPU memory (and its expert workers). A call running stops before its next GPU
   * submit and throws EngineDisposedError, as does every call after; a second dispose() does nothing.
   */
  dispose(): void {
    this.end(new EngineDisposedError());
  }

  private end(why: EngineDisposedError | DeviceLostError): void {
    if (this.disposed) return;
    this.lifetime.abort(why);
    this.admission.close(why);
    this.decoder.destroy();
    this.experts?.dispose();
    this.grammars?.dispose();
    this.expertCache?.dispose();
  }

  /** The ids that end generation: config's eos_token_id and the tokenizer's EOS. */
  private eosIds(): Set<number> {
    return this.tokenizer?.eosIds({ eos_token_id: this.config.eosTokenIds }) ?? new Set(this.config.eosTokenIds);
  }

  /** A generation's options checked and its prompt's ids (before it waits for its turn: a bad call fails at once). */
  private prepare(prompt: Prompt, o: GenerateOptions): Call {
    const maxTokens = o.maxTokens === undefined ? 256 : positiveInteger('maxTokens', o.maxTokens);
    const stops = o.stop === undefined ? [] : stopStrings('stop', o.stop);
    const signal = o.signal ? AbortSignal.any([this.lifetime.signal, o.signal]) : this.lifetime.signal;
    if (o.sampling !== undefined && o.sampling !== 'gpu' && o.sampling !== 'cpu') {
      throw new EngineOptionError('sampling', `must be 'gpu' or 'cpu', got ${JSON.stringify(o.sampling)}`);
    }
    if (o.reuseCache !== undefined && typeof o.reuseCache !== 'boolean') {
      throw new EngineOptionError('reuseCache', `must be a boolean, got ${String(o.reuseCache)}`);
    }
    if (o.contextOverflow !== undefined && o.contextOverflow !== 'error' && o.contextOverflow !== 'slide') {
      throw new EngineOptionError('contextOverflow', `must be 'error' or 'slide', got ${JSON.stringify(o.contextOverflow)}`);
    }
    const top = o.topLogprobs ?? 0;
    if (!(Number.isInteger(top) && top >= 0 && top <= 20)) throw new EngineOptionError('topLogprobs', `must be an integer in 0…20, got ${top}`);
    // A grammar's mask and log-probabilities need the logits row: they sample on the CPU.
    const needsRow = o.grammar !== undefined || o.logprobs === true;
    if (needsRow && o.sampling === 'gpu') {
      throw new EngineOptionError('sampling', `'gpu' cannot ${o.grammar ? 'apply a grammar' : 'give logprobs'}: leave it unset or 'cpu'`);
    }
    if (o.routing) validateControls(o.routing, this.config.experts, 'routing.');
    const cpu = o.sampling === 'cpu' || needsRow ? new Sampler(o) : undefined;
    // Sliding makes room for the whole reply where dropping turns can.
    const slid = o.contextOverflow === 'slide' && Array.isArray(prompt)
      ? slideTurns(prompt, (m) => this.encode(m, o), (n) => this.contextLength - n >= maxTokens)
      : undefined;
    const ids = slid?.ids ?? this.encode(prompt, o);
    const toolFormat = o.tools?.length ? toolCallFormat(this.tokenizer?.chatTemplate) : undefined;
    if (o.tools?.length && !toolFormat) {
      throw new EngineOptionError('tools',
        `cannot be parsed from ${this.model}'s output: its chat template defines no tool calls webmoe knows (Qwen3's, DeepSeek's, gpt-oss's)`);
    }
    if (ids.length === 0) throw new RangeError('webmoe: the prompt has no tokens');
    const room = this.contextLength - ids.length;
    if (room < 1) {
      const hint = slid
        ? 'its system messages and last turn alone do not fit: load with a longer contextLength'
        : 'drop earlier messages, pass contextOverflow: \'slide\' with a conversation, or load with a longer contextLength';
      throw new ContextOverflowError(ids.length, this.contextLength, hint);
    }
    return { ids, budget: Math.min(maxTokens, room), stops, signal, top, cpu, toolFormat, dropped: slid?.dropped };
  }

  private async *run(call: Call, seq: Sequence, o: GenerateOptions, grammar?: TokenMatcher): AsyncGenerator<GenerationChunk> {
    const { ids, budget, signal, top, cpu, toolFormat } = call;
    const clock = new GenerationClock();
    const interrupts = this.interrupts;
    const id = ++this.calls;
    this.message = '';
    const say = (text: string) => {
      if (id === this.calls) this.message += text;
    };
    const eos = this.eosIds();
    const text = new StreamedText(this.tokenizer?.stream({ skipSpecialTokens: true }), call.stops);
    const trace = o.trace ? new RoutingTrace(this.device, this.decoder, this.config) : undefined;
    // What the cache holds of this prompt stays, but for its last token, whose logits the first pick
    // needs; nothing when it was computed under other routing controls or masks.
    const key = this.decoder.cacheKey();
    const reuse = o.reuseCache !== false && key !== undefined && key === this.cachedUnder.get(seq);
    seq.truncate(reuse ? Math.min(seq.commonPrefix(ids), ids.length - 1) : 0);
    this.cachedUnder.set(seq, key);
    const cached = seq.length;

    const profile = o.profile ? { forwards: 0, gpuMs: 0, readbackMs: 0 } : undefined;
    const gpu = cpu ? undefined : new GpuSampler(this.device, this.config.vocab, o, ids);
    const V = this.config.vocab;
    let staging: GPUBuffer | undefined;
    // The GPU sampler reads back the token it picks from the call's row; the CPU path reads the row.
    const reader: RowReader<number | Float32Array> = gpu
      ? { record: (encoder, logits, row) => gpu.recordRow(encoder, logits, row), read: () => gpu.readToken() }
      : {
        record: (encoder, logits, row) => void (staging = stageRead(this.device, encoder, logits, row * V * 4, V * 4)),
        read: async () => new Float32Array(await mapRead(staging!)),
      };
    /** The CPU path's last logits row (for logprobs). */
    let row: Float32Array | undefined;
    /** Runs `tokens` after the sequence, in a forward shared with the other calls running, and picks the next token. */
    const step = async (tokens: number[], onPiece?: (pos0: number, n: number) => Promise<void>): Promise<number> => {
      const out = await this.batcher.step(seq, tokens, reader, signal, onPiece);
      if (typeof out === 'number') return out;
      row = out;
      const next = cpu!.next(row, seq.tokens, ids.length, await grammar?.mask());
      grammar?.accept(next);
      return next;
    };
    const cacheBefore = this.expertCache?.countsNow();

    // A long prompt may run in pieces: each piece's routing is read after it.
    const prefill: RoutingStep[] = [];
    let generated = 0;
    let finishReason: FinishReason = 'length';
    const output: number[] = [];
    const leave = this.batcher.join();
    try {
      let next = await step(ids.slice(cached), trace && (async (pos0, n) => void prefill.push(await trace.step(pos0, n))));
      clock.prefilled();
      this.decoder.profile = profile;
      let routing = trace && prefill;
      while (generated < budget) {
        clock.sampled();
        if (this.interrupts !== interrupts) {
          finishReason = 'abort';
          break;
        }
        if (eos.has(next)) {
          finishReason = 'stop';
          break;
        }
        generated++;
        output.push(next);
        const out = text.push(next);
        say(out.text);
        // With tools the text waits for the end, where the calls are cut out of it.
        const shown = toolFormat ? '' : out.text;
        yield { text: shown, tokens: [next], routing, ...(o.logprobs && { logprobs: [this.withText(logprobs(row!, next, top))] }) };
        if (out.stopped) {
          finishReason = 'stop';
          break;
        }
        if (generated === budget) break;
        next = await step([next]);
        routing = trace && [await trace.step(seq.length - 1, 1)];
      }
    } finally {
      leave();
      if (profile) this.decoder.profile = undefined;
      gpu?.destroy();
    }
    signal.throwIfAborted();
    let rest = text.end();
    let toolCalls: ParsedToolCall[] | undefined;
    if (toolFormat) {
      const parsed = parseToolCalls(toolFormat, this.tokenizer!.decode(output));
      rest = parsed.content;
      toolCalls = parsed.calls;
      if (id === this.calls) this.message = rest;
      if (toolCalls.length) finishReason = 'tool_calls';
    } else {
      say(rest);
    }
    const stats = clock.stats(ids.length, generated, finishReason, trace?.expertLoad(), { cachedTokens: cached, droppedMessages: call.dropped, profile });
    if (this.expertCache) stats.expertCache = this.expertCache.stats(cacheBefore);
    const routing = await readRouting(this.device, this.decoder, this.config, this.expertStorage);
    if (routing) stats.routing = routing;
    this.lastStats = stats;
    yield { text: rest, tokens: [], ...(toolCalls && { toolCalls }), stats };
  }

  /** Log-probabilities with their tokens' text (special tokens written out). */
  private withText(l: TokenLogprob & { top: TokenLogprob[] }): TextLogprob & { top: TextLogprob[] } {
    const text = (t: TokenLogprob) => ({ ...t, text: this.tokenizer?.decode([t.token]) ?? '' });
    return { ...text(l), top: l.top.map(text) };
  }

  private needTokenizer(): TextTokenizer {
    if (!this.tokenizer) throw new Error(`webmoe: ${this.model} has no tokenizer.json: pass token ids ({ tokens: [...] })`);
    return this.tokenizer;
  }

  /**
   * What a call that failed throws: once ended, why (a shard worker ended by dispose() fails otherwise,
   * a readback on a lost device with a bare AbortError, which may come before the device's lost promise).
   */
  private async failure(e: unknown): Promise<unknown> {
    if (!this.disposed && e instanceof Error && e.name === 'AbortError') await Promise.race([this.device.lost, new Promise((r) => setTimeout(r, 100))]);
    return this.disposed && !(e instanceof EngineDisposedError || e instanceof DeviceLostError) ? this.ended() : e;
  }

  /** Why the engine no longer runs (once `disposed`): EngineDisposedError, or DeviceLostError. */
  ended(): Error {
    const why: unknown = this.lifetime.signal.reason;
    return why instanceof DeviceLostError ? why : new EngineDisposedError();
  }

  private checkOpen(): void {
    if (this.disposed) throw this.ended();
  }

  /** Waits for the running calls to end and holds back the others; the call's routing set until it leaves. */
  private alone(routing?: RoutingOptions): Promise<Admitted> {
    this.checkOpen();
    if (routing) validateControls(routing, this.config.experts, 'routing.');
    return this.admission.enter({
      exclusive: true,
      key: '',
      score: () => 0,
      begin: () => void (this.restoreRouting = applyRouting(this.decoder, this.routing, routing)),
    });
  }
}

/** A KV cache of a positive whole number of positions, within those the model was made for. */
function checkContextLength(n: number | undefined, config: Readonly<ModelConfig>): void {
  if (n === undefined) return;
  positiveInteger('contextLength', n);
  if (n > config.maxPositions) {
    throw new EngineOptionError('contextLength', `${n} is beyond the model's ${config.maxPositions} positions (config.json max_position_embeddings)`);
  }
}

async function loadTokenizer(source: ModelSource, signal?: AbortSignal): Promise<TextTokenizer | undefined> {
  const json = await source.text('tokenizer.json', signal);
  if (json === undefined) return undefined;
  const config = await source.text('tokenizer_config.json', signal);
  const template = await source.text('chat_template.jinja', signal);
  const parse = (file: string, text: string) => {
    try {
      return JSON.parse(text) as object;
    } catch (e) {
      throw new Error(`webmoe: ${source.name}/${file} is not valid JSON: ${(e as Error).message}`);
    }
  };
  return TextTokenizer.fromJSON(parse('tokenizer.json', json), config === undefined ? {} : parse('tokenizer_config.json', config), template);
}
