// What the engine worker does (the object it exposes with Comlink): it loads an Engine and runs its
// calls. Generation is pulled a chunk at a time (start, next), so the page's iterator keeps the
// in-thread engine's pace and semantics; cancel aborts a call the page gave up on.
import { type ProxyMarked, releaseProxy, type Remote, transfer } from 'comlink';
import type { DownloadProgress } from '../../io/cacheSource.js';
import type { LoadProgress } from '../../io/checkpoint.js';
import type { ModelCache } from '../../io/modelStores.js';
import type { ModelSource } from '../../io/source.js';
import type { ModelConfig } from '../../model/config.js';
import { Engine, type GenerateOptions, type GenerationChunk, type LoadModelOptions, type Prompt, type RoutingOptions, type RoutingStats } from '../engine.js';

/**
 * A model the worker can open itself: a URL (or, in Node, a folder path), browser File objects, or a
 * URL for each file (`{ files: bundledModelFiles }` from webmoe/bundled-model).
 */
export type ModelSpec = string | File[] | ModelFiles;

export interface ModelFiles {
  files: Readonly<Record<string, string>>;
}

/** Load options that cross to the worker (no signal or callback: those are the page's). */
export type WorkerLoadOptions = Omit<LoadModelOptions, 'signal' | 'onProgress' | 'shardWorkerUrl'> & { shardWorkerUrl?: string; cache?: ModelCache };

/** A callback the page passed with Comlink's proxy(). */
type Proxied<F> = F & ProxyMarked;

export interface LoadedModel {
  model: string;
  config: ModelConfig;
  contextLength: number;
  hasTokenizer: boolean;
}

export interface EngineApi {
  load(
    model: ModelSpec,
    options: WorkerLoadOptions,
    onProgress?: Proxied<(p: LoadProgress) => void>,
    onDownload?: Proxied<(p: DownloadProgress) => void>,
  ): Promise<LoadedModel>;
  abortLoad(reason: string): void;
  /** Starts a generation; returns its id for next() and cancel(). */
  start(prompt: Prompt, options: Omit<GenerateOptions, 'signal'>): number;
  /** The call's next chunk; none when it has ended. */
  next(id: number): Promise<{ chunk?: GenerationChunk }>;
  cancel(id: number, reason: string): void;
  logits(tokens: number[], options?: { routing?: RoutingOptions }): Promise<Float32Array[]>;
  /** The routing controls, as on Engine. */
  setRouting(o: RoutingOptions): void;
  setExpertMask(layer: number, mask: ArrayLike<boolean | number>): void;
  routingStats(): Promise<RoutingStats | undefined>;
  encode(prompt: Prompt): number[];
  decode(tokens: number[]): string;
  /** WebLLM's calls, as on Engine. */
  resetChat(keepStats?: boolean): Promise<void>;
  interruptGenerate(): void;
  getMessage(): Promise<string>;
  runtimeStatsText(): Promise<string>;
  dispose(): void;
}

/** How a worker opens a model: the source and device of its platform. */
export type OpenModel = (
  model: ModelSpec,
  options: { cache?: ModelCache; onDownload?: (p: DownloadProgress) => void },
) => { source: ModelSource; device: () => Promise<GPUDevice> };

/** The engine worker's object; `open` makes the source and device of its platform. */
export function engineApi(open: OpenModel): EngineApi {
  let engine: Engine | undefined;
  let loading: AbortController | undefined;
  const calls = new Map<number, { it: AsyncGenerator<GenerationChunk>; abort: AbortController }>();
  let nextId = 0;
  const cancel = (id: number, reason: string) => {
    const call = calls.get(id);
    if (!call) return;
    calls.delete(id);
    call.abort.abort(new DOMException(reason, 'AbortError'));
    void call.it.return(undefined).catch(() => {});
  };
  const loaded = () => {
    if (!engine) throw new Error('webmoe: the engine worker has no model loaded');
    return engine;
  };
  return {
    async load(model, { cache, ...options }, onProgress, onDownload) {
      const { source, device } = open(model, { cache, onDownload: onDownload && ((p) => void onDownload(p)) });
      loading = new AbortController();
      try {
        engine = await Engine.load(await device(), source, {
          ...options,
          signal: loading.signal,
          onProgress: onProgress && ((p) => void onProgress(p)),
        });
      } finally {
        loading = undefined;
        for (const p of [onProgress, onDownload]) (p as Remote<unknown> | undefined)?.[releaseProxy]();
      }
      return { model: engine.model, config: engine.config, contextLength: engine.contextLength, hasTokenizer: !!engine.tokenizer };
    },
    abortLoad(reason) {
      loading?.abort(new DOMException(reason, 'AbortError'));
    },
    start(prompt, options) {
      const abort = new AbortController();
      const id = nextId++;
      calls.set(id, { it: loaded().generate(prompt, { ...options, signal: abort.signal }), abort });
      return id;
    },
    async next(id) {
      const call = calls.get(id);
      if (!call) throw new Error(`webmoe: no generation ${id} in the engine worker`);
      try {
        const r = await call.it.next();
        if (r.done) calls.delete(id);
        return r.done ? {} : { chunk: r.value };
      } catch (e) {
        calls.delete(id);
        throw e;
      }
    },
    cancel,
    async logits(tokens, options) {
      const rows = await loaded().logits(tokens, options);
      return transfer(rows, rows.map((r) => r.buffer));
    },
    encode: (prompt) => loaded().encode(prompt),
    decode: (tokens) => {
      const e = loaded();
      if (!e.tokenizer) throw new Error(`webmoe: ${e.model} has no tokenizer.json`);
      return e.tokenizer.decode(tokens, { skipSpecialTokens: true });
    },
    setRouting: (o) => loaded().setRouting(o),
    setExpertMask: (layer, mask) => loaded().setExpertMask(layer, mask),
    routingStats: () => loaded().routingStats(),
    resetChat: (keepStats) => loaded().resetChat(keepStats),
    interruptGenerate: () => loaded().interruptGenerate(),
    getMessage: () => loaded().getMessage(),
    runtimeStatsText: () => loaded().runtimeStatsText(),
    dispose() {
      for (const id of [...calls.keys()]) cancel(id, 'disposed');
      engine?.dispose();
      engine = undefined;
    },
  };
}
