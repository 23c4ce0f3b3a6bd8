// The engine users hold: a loaded model (decoder on the GPU, tokenizer, chat template) and
// generation as an async iterator of text deltas. Calls run one at a time; each starts a fresh
// sequence, so an aborted or failed call leaves the engine ready for the next. dispose() frees the GPU
// memory at once: a call running then stops before its next GPU submit, and every later call throws.
// A lost device ends the engine the same way, with DeviceLostError.
import { type Checkpoint, type LoadProgress, openCheckpoint } from '../io/checkpoint.js';
import type { ModelSource } from '../io/source.js';
import { type ModelConfig, moeConfigOf, sparseLayers } from '../model/config.js';
import type { Decoder } from '../model/decoder.js';
import { readConfig } from '../model/families/registry.js';
import { type DecoderLoadOptions, loadDecoder } from '../model/load.js';
import { Sampler, type SamplingOptions } from '../model/sampling.js';
import { Sequence } from '../model/sequence.js';
import { type ChatMessage, TextTokenizer } from '../model/tokenizer.js';
import { ExpertCoordinator, type ExpertParallelOptions } from '../moe/sharded/coordinator.js';
import { DeviceLostError, EngineDisposedError, EngineOptionError, positiveInteger, stopStrings } from './errors.js';
import { ChatCompletions } from './openai.js';
import { type FinishReason, GenerationClock, type GenerationStats } from './stats.js';
import { StreamedText } from './stops.js';
import { type RoutingStep, RoutingTrace } from './trace.js';
import { applyRouting, readRouting, type RoutingOptions, type RoutingStats } from './routing.js';
import { validateControls } from '../moe/spec.js';
import type { WeightStorage } from '../weights/format.js';

export { DeviceLostError, EngineDisposedError, EngineOptionError };
export type { FinishReason, GenerationStats, RoutingOptions, RoutingStats, RoutingStep };

export interface LoadModelOptions extends Omit<DecoderLoadOptions, 'experts'>, Partial<ExpertParallelOptions> {
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
  /** Routing controls of this call, over the engine's defaults field by field (docs/routing.md). */
  routing?: RoutingOptions;
}

export interface GenerationChunk {
  /** text added since the previous chunk (may be empty) */
  text: string;
  /** token ids this chunk stands for */
  tokens: number[];
  routing?: RoutingStep[];
  /** on the last chunk only */
  stats?: GenerationStats;
}

export class Engine {
  /** OpenAI-style chat completions (as WebLLM users know them). */
  readonly chat: { completions: ChatCompletions };
  private busy: Promise<void> = Promise.resolve();
  /** Aborted by dispose() (EngineDisposedError) or the device's loss (DeviceLostError): the running call's forwards check it. */
  private readonly lifetime = new AbortController();
  /** The tokens the decoder's KV cache holds. */
  private readonly sequence: Sequence;
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
    /** how the routed experts' weights are stored (the routing stats' bytes per token) */
    private readonly expertStorage: WeightStorage = 'f32',
  ) {
    this.chat = { completions: new ChatCompletions(this) };
    this.sequence = new Sequence(decoder);
    void device.lost.then((info) => this.end(new DeviceLostError(info.reason, info.message)));
  }

  /** Loads config.json, the safetensors weights and (when present) the tokenizer from `source`. */
  static async load(device: GPUDevice, source: ModelSource, options: LoadModelOptions = {}): Promise<Engine> {
    const ckpt: Checkpoint = await openCheckpoint(source, options.signal);
    const { family, config } = readConfig(ckpt.config);
    checkContextLength(options.contextLength, config);
    const tokenizer = await loadTokenizer(source, options.signal);
    const storage = config.expertStorage ?? options.dtype ?? 'f32';
    if (options.workers === undefined) {
      return new Engine(device, config, tokenizer, await loadDecoder(device, ckpt, family, config, options), source.name, undefined, storage)
        .withRouting(options.routing);
    }
    // Expert-parallel: the routed experts go to shard workers as the checkpoint streams (MXFP4 ones as they are).
    const experts = await ExpertCoordinator.start(device, moeConfigOf(config), sparseLayers(config), config.expertStorage ?? options.dtype ?? 'f32', {
      ...options,
      workers: options.workers,
    });
    try {
      const decoder = await loadDecoder(device, ckpt, family, config, { ...options, experts });
      return new Engine(device, config, tokenizer, decoder, source.name, experts, storage).withRouting(options.routing);
    } catch (e) {
      experts.dispose();
      throw e;
    }
  }

  get contextLength(): number {
    return this.decoder.contextLength;
  }

  get disposed(): boolean {
    return this.lifetime.signal.aborted;
  }

  /** Logits of every position of `tokens` ([T][vocab]), by the same path as generation's prefill. */
  async logits(tokens: number[], o: { routing?: RoutingOptions } = {}): Promise<Float32Array[]> {
    const release = await this.acquire();
    let restore: (() => void) | undefined;
    try {
      restore = applyRouting(this.decoder, this.routing, o.routing);
      this.sequence.truncate(0);
      const flat = await this.sequence.append(tokens, 'all', this.lifetime.signal);
      const V = this.config.vocab;
      return tokens.map((_, t) => flat.slice(t * V, (t + 1) * V));
    } catch (e) {
      throw await this.failure(e);
    } finally {
      if (!this.disposed) restore?.(); // an ended engine's decoder has no buffers to write
      release();
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

  /** Token ids of a prompt: plain text with the tokenizer's BOS, or a conversation through the chat template. */
  encode(prompt: Prompt): number[] {
    this.checkOpen();
    if (!Array.isArray(prompt) && typeof prompt === 'object') return prompt.tokens;
    const tok = this.needTokenizer();
    return typeof prompt === 'string' ? tok.encode(prompt) : tok.applyChatTemplate(prompt, { addGenerationPrompt: true }).ids;
  }

  /**
   * Streams the continuation of `prompt`; the last chunk carries the stats. The engine is held until
   * the iterator ends: leaving a for-await early (break, return, throw) or calling `.return()` ends it;
   * an iterator dropped half-read without either holds the engine for good.
   */
  async *generate(prompt: Prompt, o: GenerateOptions = {}): AsyncGenerator<GenerationChunk> {
    const release = await this.acquire();
    let restore: (() => void) | undefined;
    try {
      restore = applyRouting(this.decoder, this.routing, o.routing);
      yield* this.run(prompt, o);
    } catch (e) {
      throw await this.failure(e);
    } finally {
      if (!this.disposed) restore?.(); // an ended engine's decoder has no buffers to write
      release();
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
    this.decoder.destroy();
    this.experts?.dispose();
  }

  private async *run(prompt: Prompt, o: GenerateOptions): AsyncGenerator<GenerationChunk> {
    const clock = new GenerationClock();
    const maxTokens = o.maxTokens === undefined ? 256 : positiveInteger('maxTokens', o.maxTokens);
    const stops = o.stop === undefined ? [] : stopStrings('stop', o.stop);
    const signal = o.signal ? AbortSignal.any([this.lifetime.signal, o.signal]) : this.lifetime.signal;
    const sampler = new Sampler(o);
    const ids = this.encode(prompt);
    if (ids.length === 0) throw new RangeError('webmoe: the prompt has no tokens');
    const room = this.contextLength - ids.length;
    if (room < 1) throw new RangeError(`webmoe: the prompt has ${ids.length} tokens, the context holds ${this.contextLength}`);
    const budget = Math.min(maxTokens, room);
    const eos = this.tokenizer?.eosIds({ eos_token_id: this.config.eosTokenIds }) ?? new Set(this.config.eosTokenIds);
    const text = new StreamedText(this.tokenizer?.stream({ skipSpecialTokens: true }), stops);
    const trace = o.trace ? new RoutingTrace(this.device, this.decoder, this.config) : undefined;
    const seq = this.sequence;
    seq.truncate(0); // each call starts a fresh sequence

    // A long prompt may run in pieces (a sliding window's ring): each piece's routing is read after it.
    const prefill: RoutingStep[] = [];
    let logits = await seq.append(ids, 'last', signal, trace && (async (pos0, n) => void prefill.push(await trace.step(pos0, n))));
    clock.prefilled();
    let routing = trace && prefill;
    let generated = 0;
    let finishReason: FinishReason = 'length';
    while (generated < budget) {
      const next = sampler.next(logits, seq.tokens);
      clock.sampled();
      if (eos.has(next)) {
        finishReason = 'stop';
        break;
      }
      generated++;
      const out = text.push(next);
      yield { text: out.text, tokens: [next], routing };
      if (out.stopped) {
        finishReason = 'stop';
        break;
      }
      if (generated === budget) break;
      logits = await seq.append([next], 'last', signal);
      routing = trace && [await trace.step(seq.length - 1, 1)];
    }
    signal.throwIfAborted();
    const stats = clock.stats(ids.length, generated, finishReason, trace?.expertLoad());
    yield { text: text.end(), tokens: [], stats: { ...stats, routing: await readRouting(this.device, this.decoder, this.config, this.expertStorage) } };
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

  /** Why the engine no longer runs: disposed, or its device lost. */
  private ended(): Error {
    const why: unknown = this.lifetime.signal.reason;
    return why instanceof DeviceLostError ? why : new EngineDisposedError();
  }

  private checkOpen(): void {
    if (this.disposed) throw this.ended();
  }

  /** Waits for the calls before to end; throws (holding nothing) if the engine is disposed meanwhile. */
  private async acquire(): Promise<() => void> {
    this.checkOpen();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const before = this.busy;
    this.busy = before.then(() => mine);
    await before;
    if (this.disposed) {
      release();
      throw this.ended();
    }
    return release;
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
