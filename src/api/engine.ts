// The engine users hold: a loaded model (decoder on the GPU, tokenizer, chat template) and
// generation as an async iterator of text deltas. Calls run one at a time; each starts a fresh
// sequence, so an aborted or failed call leaves the engine ready for the next.
import { type Checkpoint, type LoadProgress, openCheckpoint } from '../io/checkpoint.js';
import type { ModelSource } from '../io/source.js';
import { readBuffers } from '../gpu/workspace.js';
import { type ModelConfig, moeConfigOf, sparseLayers } from '../model/config.js';
import type { Decoder } from '../model/decoder.js';
import { readConfig } from '../model/families/registry.js';
import { type DecoderLoadOptions, loadDecoder } from '../model/load.js';
import { Sampler, type SamplingOptions } from '../model/sampling.js';
import { type ChatMessage, findStop, TextTokenizer } from '../model/tokenizer.js';
import { ExpertCoordinator, type ExpertParallelOptions } from '../moe/sharded/coordinator.js';
import { ChatCompletions } from './openai.js';

export interface LoadModelOptions extends Omit<DecoderLoadOptions, 'experts'>, Partial<ExpertParallelOptions> {
  onProgress?: (p: LoadProgress) => void;
}

/** What to continue: plain text, a conversation (rendered by the chat template), or token ids. */
export type Prompt = string | ChatMessage[] | { tokens: number[] };

export interface GenerateOptions extends SamplingOptions {
  /** Tokens to generate at most. Default 256. */
  maxTokens?: number;
  /** Generation ends before the first of these strings. */
  stop?: string[];
  signal?: AbortSignal;
  /** Attach each step's routing to its chunk and per-layer expert load to the stats. */
  trace?: boolean;
}

/** Routing of one forward step: per MoE layer, per token, the chosen experts and their weights. */
export interface RoutingStep {
  /** absolute positions of the step's tokens */
  positions: number[];
  layers: { layer: number; ids: number[][]; weights: number[][] }[];
}

export type FinishReason = 'stop' | 'length';

export interface GenerationStats {
  promptTokens: number;
  completionTokens: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  timeToFirstTokenMs: number;
  finishReason: FinishReason;
  /** with `trace`: per MoE layer, tokens routed to each expert over the call */
  expertLoad?: { layer: number; counts: number[] }[];
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

  private constructor(
    private readonly device: GPUDevice,
    readonly config: Readonly<ModelConfig>,
    readonly tokenizer: TextTokenizer | undefined,
    private readonly decoder: Decoder,
    /** a name for the model (the source's) */
    readonly model: string,
    /** the expert-parallel scheduler (load with `workers`): its placement and time stats */
    readonly experts?: ExpertCoordinator,
  ) {
    this.chat = { completions: new ChatCompletions(this) };
  }

  /** Loads config.json, the safetensors weights and (when present) the tokenizer from `source`. */
  static async load(device: GPUDevice, source: ModelSource, options: LoadModelOptions = {}): Promise<Engine> {
    const ckpt: Checkpoint = await openCheckpoint(source, options.signal);
    const { family, config } = readConfig(ckpt.config);
    const tokenizer = await loadTokenizer(source, options.signal);
    if (options.workers === undefined) return new Engine(device, config, tokenizer, await loadDecoder(device, ckpt, family, config, options), source.name);
    // Expert-parallel: the routed experts go to shard workers as the checkpoint streams.
    const experts = await ExpertCoordinator.start(device, moeConfigOf(config), sparseLayers(config), options.dtype ?? 'f32', { ...options, workers: options.workers });
    try {
      const decoder = await loadDecoder(device, ckpt, family, config, { ...options, experts });
      return new Engine(device, config, tokenizer, decoder, source.name, experts);
    } catch (e) {
      experts.dispose();
      throw e;
    }
  }

  get contextLength(): number {
    return this.decoder.contextLength;
  }

  /** Logits of every position of `tokens` ([T][vocab]), by the same path as generation's prefill. */
  async logits(tokens: number[]): Promise<Float32Array[]> {
    const release = await this.acquire();
    try {
      const flat = await this.decoder.forward(tokens, 0, 'all');
      const V = this.config.vocab;
      return tokens.map((_, t) => flat.slice(t * V, (t + 1) * V));
    } finally {
      release();
    }
  }

  /** Token ids of a prompt: plain text with the tokenizer's BOS, or a conversation through the chat template. */
  encode(prompt: Prompt): number[] {
    if (!Array.isArray(prompt) && typeof prompt === 'object') return prompt.tokens;
    const tok = this.needTokenizer();
    return typeof prompt === 'string' ? tok.encode(prompt) : tok.applyChatTemplate(prompt, { addGenerationPrompt: true }).ids;
  }

  /** Streams the continuation of `prompt`; the last chunk carries the stats. */
  async *generate(prompt: Prompt, o: GenerateOptions = {}): AsyncGenerator<GenerationChunk> {
    const release = await this.acquire();
    try {
      yield* this.run(prompt, o);
    } finally {
      release();
    }
  }

  dispose(): void {
    this.decoder.destroy();
    this.experts?.dispose();
  }

  private async *run(prompt: Prompt, o: GenerateOptions): AsyncGenerator<GenerationChunk> {
    const start = performance.now();
    const maxTokens = o.maxTokens ?? 256;
    if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new RangeError(`webmoe: maxTokens must be a positive integer, got ${maxTokens}`);
    const sampler = new Sampler(o);
    const ids = this.encode(prompt);
    if (ids.length === 0) throw new RangeError('webmoe: the prompt has no tokens');
    const room = this.contextLength - ids.length;
    if (room < 1) throw new RangeError(`webmoe: the prompt has ${ids.length} tokens, the context holds ${this.contextLength}`);
    const eos = this.tokenizer?.eosIds({ eos_token_id: this.config.eosTokenIds }) ?? new Set(this.config.eosTokenIds);
    const text = this.tokenizer?.stream({ skipSpecialTokens: true });
    const stops = o.stop ?? [];
    const holdBack = Math.max(0, ...stops.map((s) => s.length - 1));
    const load = o.trace ? new Map<number, number[]>() : undefined;

    const all = [...ids];
    let pending = '';
    let finishReason: FinishReason = 'length';
    let stopString = false;
    let firstTokenMs = 0;
    let decodeStart = 0;
    let logits = await this.step(ids, 0, o.signal);
    const prefillMs = performance.now() - start;
    let routing = o.trace ? [await this.routing(0, ids.length, load!)] : undefined;
    let generated = 0;
    while (generated < Math.min(maxTokens, room)) {
      const next = sampler.next(logits, all);
      if (generated === 0) {
        firstTokenMs = performance.now() - start;
        decodeStart = performance.now();
      }
      if (eos.has(next)) {
        finishReason = 'stop';
        break;
      }
      all.push(next);
      generated++;
      pending += text?.push(next) ?? '';
      const cut = findStop(pending, stops);
      if (cut >= 0) {
        yield { text: pending.slice(0, cut), tokens: [next], routing };
        finishReason = 'stop';
        stopString = true;
        break;
      }
      const emit = pending.slice(0, Math.max(0, pending.length - holdBack));
      pending = pending.slice(emit.length);
      yield { text: emit, tokens: [next], routing };
      if (generated === Math.min(maxTokens, room)) break;
      logits = await this.step([next], all.length - 1, o.signal);
      routing = o.trace ? [await this.routing(all.length - 1, 1, load!)] : undefined;
    }
    const decodeMs = performance.now() - decodeStart;
    const stats: GenerationStats = {
      promptTokens: ids.length,
      completionTokens: generated,
      prefillTokensPerSecond: (ids.length / prefillMs) * 1000,
      decodeTokensPerSecond: generated > 1 ? ((generated - 1) / decodeMs) * 1000 : 0,
      timeToFirstTokenMs: firstTokenMs,
      finishReason,
      expertLoad: load && [...load].map(([layer, counts]) => ({ layer, counts })),
    };
    yield { text: stopString ? '' : pending + (text?.flush() ?? ''), tokens: [], stats };
  }

  private async step(tokens: number[], pos0: number, signal?: AbortSignal): Promise<Float32Array> {
    signal?.throwIfAborted();
    const logits = await this.decoder.forward(tokens, pos0, 'last');
    signal?.throwIfAborted();
    return logits;
  }

  /** Reads back the routing of the last forward (only when tracing: it costs a readback). */
  private async routing(pos0: number, tokens: number, load: Map<number, number[]>): Promise<RoutingStep> {
    const sparse = sparseLayers(this.config);
    const buffers = sparse.flatMap((l) => {
      const r = this.decoder.routing(l)!;
      return [r.ids, r.weights, r.counts];
    });
    const data = await readBuffers(this.device, buffers);
    const k = this.config.topK;
    const rows = (a: Uint32Array | Float32Array) => Array.from({ length: tokens }, (_, t) => Array.from(a.subarray(t * k, (t + 1) * k)));
    return {
      positions: Array.from({ length: tokens }, (_, t) => pos0 + t),
      layers: sparse.map((layer, i) => {
        const counts = new Uint32Array(data[3 * i + 2]);
        const total = load.get(layer) ?? new Array<number>(counts.length).fill(0);
        counts.forEach((n, e) => (total[e] += n));
        load.set(layer, total);
        return { layer, ids: rows(new Uint32Array(data[3 * i])), weights: rows(new Float32Array(data[3 * i + 1])) };
      }),
    };
  }

  private needTokenizer(): TextTokenizer {
    if (!this.tokenizer) throw new Error(`webmoe: ${this.model} has no tokenizer.json: pass token ids ({ tokens: [...] })`);
    return this.tokenizer;
  }

  private async acquire(): Promise<() => void> {
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const before = this.busy;
    this.busy = before.then(() => mine);
    await before;
    return release;
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
