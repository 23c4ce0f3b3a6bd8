// createWorkerEngine: the whole engine (loading, kernels, tokenizer) in a dedicated worker, with the
// in-thread Engine's surface on the caller's side: load progress, generation as an async iterator,
// abort by AbortSignal, stats on the last chunk, the OpenAI-style chat API, dispose.
import { proxy, type Remote, releaseProxy, wrap } from 'comlink';
import type { GenerateOptions, GenerationChunk, Prompt, RoutingOptions, RoutingStats } from '../engine.js';
import { EngineDisposedError } from '../errors.js';
import type { LoadOptions } from '../load.js';
import { ChatCompletions } from '../openai.js';
import type { ModelConfig } from '../../model/config.js';
import type { EngineApi, ModelSpec } from './engineHost.js';
import { adoptWorker, guard, spawnWorker, type WorkerHandle } from '../../platform/workers.js';

export interface WorkerEngineOptions extends Omit<LoadOptions, 'shardWorkerUrl' | 'device'> {
  /** The engine worker script. Default: the built one beside the package's modules. */
  workerUrl?: string | URL;
  /**
   * Browser only, in place of `workerUrl`: a started engine worker, or a function that starts one.
   * For bundlers that bundle a worker only where the app writes
   * `new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' })` (Vite): its script
   * exposes engineApi as src/api/worker/engineWorker.ts does. The engine terminates it on dispose or
   * when the load fails.
   */
  worker?: Worker | (() => Worker);
  /** The shard worker script, for `workers` (expert-parallel inside the engine worker). */
  shardWorkerUrl?: string;
}

const WHAT = 'the engine worker';

export class WorkerEngine {
  /** OpenAI-style chat completions, as on the in-thread Engine. */
  readonly chat: { completions: ChatCompletions };
  private isDisposed = false;

  private constructor(
    private readonly handle: WorkerHandle,
    private readonly api: Remote<EngineApi>,
    readonly model: string,
    readonly config: Readonly<ModelConfig>,
    readonly contextLength: number,
  ) {
    this.chat = { completions: new ChatCompletions(this) };
  }

  /** Starts the worker and loads `model` (a URL or, in Node, a folder; or browser File objects) in it. */
  static async create(model: ModelSpec, options: WorkerEngineOptions = {}): Promise<WorkerEngine> {
    const { signal, onProgress, onDownload, workerUrl, worker, ...rest } = options;
    signal?.throwIfAborted();
    const handle = worker ? adoptWorker(typeof worker === 'function' ? worker() : worker) : spawnWorker('engine', workerUrl);
    const api = wrap<EngineApi>(handle.endpoint);
    const progress = onProgress && proxy(onProgress);
    const download = onDownload && proxy(onDownload);
    const abort = () => void api.abortLoad(String(signal?.reason ?? 'aborted')).catch(() => {});
    signal?.addEventListener('abort', abort, { once: true });
    try {
      const m = await guard(handle, WHAT, api.load(pageUrls(model), rest, progress, download));
      return new WorkerEngine(handle, api, m.model, m.config, m.contextLength);
    } catch (e) {
      handle.terminate();
      throw signal?.aborted ? signal.reason : e;
    } finally {
      signal?.removeEventListener('abort', abort);
    }
  }

  /** Streams the continuation of `prompt`, as Engine.generate; `signal` ends it with its reason. */
  async *generate(prompt: Prompt, options: GenerateOptions = {}): AsyncGenerator<GenerationChunk> {
    const { signal, ...rest } = options;
    signal?.throwIfAborted();
    const id = await this.call(() => this.api.start(prompt, rest));
    let aborted: Promise<never> | undefined;
    let onAbort = () => {};
    if (signal) {
      aborted = new Promise<never>((_, reject) => (onAbort = () => reject(signal.reason)));
      aborted.catch(() => {});
      signal.addEventListener('abort', onAbort, { once: true });
    }
    let finished = false;
    try {
      for (;;) {
        const next = this.call(() => this.api.next(id));
        const { chunk } = await (aborted ? Promise.race([next, aborted]) : next);
        if (!chunk) {
          finished = true;
          return;
        }
        yield chunk;
        signal?.throwIfAborted();
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (!finished && !this.disposed) void this.api.cancel(id, 'the caller stopped reading').catch(() => {});
    }
  }

  /** Logits of every position of `tokens` ([T][vocab]), under the call's `routing` (as Engine.logits). */
  logits(tokens: number[], options: { routing?: RoutingOptions } = {}): Promise<Float32Array[]> {
    return this.call(() => this.api.logits(tokens, options));
  }

  /** Routing defaults of every later call, as Engine.setRouting (docs/routing.md). */
  setRouting(o: RoutingOptions): Promise<void> {
    return this.call(() => this.api.setRouting(o));
  }

  /** Disables experts of MoE layer `layer`, as Engine.setExpertMask. */
  setExpertMask(layer: number, mask: ArrayLike<boolean | number>): Promise<void> {
    return this.call(() => this.api.setExpertMask(layer, Array.from(mask)));
  }

  /** The latest call's routing telemetry, as Engine.routingStats. */
  routingStats(): Promise<RoutingStats | undefined> {
    return this.call(() => this.api.routingStats());
  }

  /** Token ids of a prompt (tokenized in the worker). */
  encode(prompt: Prompt): Promise<number[]> {
    return this.call(() => this.api.encode(prompt));
  }

  /** Text of token ids, special tokens skipped. */
  decode(tokens: number[]): Promise<string> {
    return this.call(() => this.api.decode(tokens));
  }

  /** WebLLM's resetChat, as Engine.resetChat. */
  resetChat(keepStats?: boolean): Promise<void> {
    return this.call(() => this.api.resetChat(keepStats));
  }

  /** WebLLM's interruptGenerate: the running call ends before its next token (its stream ends, not throws). */
  interruptGenerate(): void {
    void this.call(() => this.api.interruptGenerate()).catch(() => {});
  }

  /** WebLLM's getMessage: the text of the running or last call. */
  getMessage(): Promise<string> {
    return this.call(() => this.api.getMessage());
  }

  /** WebLLM's runtimeStatsText: the last call's prefill and decode speed. */
  runtimeStatsText(): Promise<string> {
    return this.call(() => this.api.runtimeStatsText());
  }

  get disposed(): boolean {
    return this.isDisposed;
  }

  /** Frees the model and ends the worker; calls still running, and every call after, throw EngineDisposedError. */
  dispose(): void {
    if (this.isDisposed) return;
    this.isDisposed = true;
    // Let the worker free its GPU memory if it can, then end it.
    const done = this.api.dispose().catch(() => {});
    void Promise.race([done, new Promise((r) => setTimeout(r, 1000))]).then(() => {
      this.api[releaseProxy]();
      this.handle.terminate();
    });
  }

  /** Sends a call to the worker (none once disposed); one that fails once disposed failed for that. */
  private call<R>(send: () => Promise<R>): Promise<R> {
    const disposed = () => new EngineDisposedError('the worker engine');
    if (this.isDisposed) return Promise.reject(disposed());
    return guard(this.handle, WHAT, send()).catch((e: unknown) => {
      throw this.isDisposed ? disposed() : e;
    });
  }
}

/** A page's relative URLs made absolute: the worker would resolve them against its script's URL. */
function pageUrls(model: ModelSpec): ModelSpec {
  if (typeof location === 'undefined' || Array.isArray(model)) return model; // Node: strings are paths too
  const abs = (url: string) => new URL(url, location.href).href;
  return typeof model === 'string' ? abs(model) : { files: Object.fromEntries(Object.entries(model.files).map(([f, u]) => [f, abs(u)])) };
}

/** Runs the engine in a dedicated worker; the same calls as the Engine loadModel gives. */
export function createWorkerEngine(model: ModelSpec, options?: WorkerEngineOptions): Promise<WorkerEngine> {
  return WorkerEngine.create(model, options);
}
