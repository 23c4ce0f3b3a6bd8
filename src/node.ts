// webmoe/node: everything of `webmoe`, plus what only Node has: Dawn devices, model folders on disk,
// the bundled model's folder, workers as worker_threads.
import { totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Engine } from './api/engine.js';
import type { LoadOptions } from './api/load.js';
import { createNodeDevice } from './gpu/nodeDevice.js';
import { nodeModelSource } from './io/nodeSource.js';
import type { ModelSource } from './io/source.js';
import { mlcEngineCreator } from './api/webllm.js';
import './platform/nodeXGrammar.js'; // structured output's grammar library, run as CommonJS

// Relative to this module, which sits directly under src/ and dist/ alike. A variable, so that the
// build leaves the folder alone instead of treating `new URL('…', import.meta.url)` as an asset.
const BUNDLED = '../public/models/austen-moe/';
/** The folder of the bundled default model (a small Mixtral-layout MoE trained by scripts/model/). */
export const bundledModelDir: string = fileURLToPath(new URL(BUNDLED, import.meta.url));

/**
 * loadModel for Node: a local model folder, an http(s) URL or a ModelSource, on a Dawn device;
 * with no model, the bundled default model. On a software adapter (lavapipe), whose GPU memory is the
 * host's, a model that needs more than the host's memory is refused before loading (`memoryLimit`).
 */
export async function loadModel(model: string | ModelSource = bundledModelDir, options: LoadOptions = {}): Promise<Engine> {
  const device = options.device ?? await createNodeDevice();
  const memoryLimit = options.memoryLimit ?? (device.adapterInfo?.isFallbackAdapter ? totalmem() : undefined);
  return Engine.load(device, typeof model === 'string' ? nodeModelSource(model) : model, { ...options, memoryLimit });
}

/** WebLLM's CreateMLCEngine(model, { initProgressCallback }): loadModel for WebLLM apps (a folder or URL). */
export const CreateMLCEngine = mlcEngineCreator(loadModel);

export { createNodeDevice };
export { nodeDirSource, nodeFile, nodeModelSource } from './io/nodeSource.js';
// Workers (createWorkerEngine, the expert-parallel `workers` option) start as worker_threads here.
export * from './index.js';
export { nodeSpawner } from './platform/nodeWorkers.js';
// `webmoe serve` as a function: an OpenAI-compatible HTTP server on an engine (docs/serve.md).
export { type RunningServer, serve, type ServeEngine, type ServeOptions } from './serve/server.js';
