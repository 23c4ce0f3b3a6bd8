// The chat page's engine worker: webmoe's engine worker (engineApi: loading, kernels, tokenizer all
// here, never on the page's thread) on the page's sources — a URL through the Cache API, or File
// objects — plus what the page needs around a load: the model's size before it (checked against the
// page's memory), downloads and device loss as events, and GPU out-of-memory as a ModelFitError.
import { expose, type ProxyMarked } from 'comlink';
import {
  createDevice,
  type DownloadProgress,
  type EngineApi,
  engineApi,
  type ModelSource,
  type ModelSpec,
  modelSpecSource,
  openCheckpoint,
  type WeightDType,
} from '../../src/index.js';
import { catchOutOfMemory, gpuBytes } from './fit.js';

export interface ChatWorkerEvents {
  download(p: DownloadProgress): void;
  /** The worker's GPU device was lost (not when the worker ends). */
  deviceLost(reason: string): void;
}

export interface ModelSize {
  /** bytes of the safetensors file(s) */
  weightBytes: number;
  /** GPU bytes of the weights at the asked dtype plus the KV cache */
  gpuBytes: number;
}

export interface ChatWorkerApi extends EngineApi {
  /** Where download progress and device loss go (the page's proxy). */
  watch(events: ChatWorkerEvents & ProxyMarked): void;
  /** Reads config.json and the safetensors header (a URL's files land in the Cache API on the way). */
  size(model: ModelSpec, dtype: WeightDType): Promise<ModelSize>;
}

let events: ChatWorkerEvents | undefined;
let device: Promise<GPUDevice> | undefined;

function source(model: ModelSpec): ModelSource {
  const onDownload = (p: DownloadProgress) => void Promise.resolve(events?.download(p)).catch(() => {});
  return modelSpecSource(model, { onDownload });
}

function gpu(): Promise<GPUDevice> {
  device ??= createDevice().then((d) => {
    d.lost.then((info) => {
      if (info.reason !== 'destroyed') void Promise.resolve(events?.deviceLost(`${info.reason}: ${info.message}`)).catch(() => {});
    });
    return d;
  });
  return device;
}

const api = engineApi((model) => ({ source: source(model), device: gpu }));

async function size(model: ModelSpec, dtype: WeightDType): Promise<ModelSize> {
  const ckpt = await openCheckpoint(source(model));
  return { weightBytes: ckpt.bytes, gpuBytes: gpuBytes(ckpt, dtype) };
}

const chatApi: ChatWorkerApi = {
  ...api,
  watch(e) {
    events = e;
  },
  size,
  async load(model, options, onProgress) {
    const dtype = options.dtype ?? 'f32';
    const { gpuBytes: bytes } = await size(model, dtype);
    const loaded = await catchOutOfMemory(await gpu(), bytes, dtype, async () => {
      const m = await api.load(model, options, onProgress);
      return { m, dispose: () => api.dispose() };
    });
    return loaded.m;
  },
};

expose(chatApi);
