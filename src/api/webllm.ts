// WebLLM's entry calls, so that a WebLLM app runs on webmoe by changing its import:
// CreateMLCEngine(model, { initProgressCallback }) and CreateWebWorkerMLCEngine(worker, model, …).
// The model is what loadModel takes (a URL or, in Node, a folder), not a WebLLM model id.
import type { LoadProgress } from '../io/checkpoint.js';
import type { Engine } from './engine.js';
import { EngineOptionError } from './errors.js';
import type { LoadOptions } from './load.js';
import { createWorkerEngine, type WorkerEngine } from './worker/workerEngine.js';

/** WebLLM's progress report: progress in [0, 1], seconds since the load started, a line of text. */
export interface InitProgressReport {
  progress: number;
  timeElapsed: number;
  text: string;
}

/** The WebLLM engine config webmoe honours; any other key is refused by name. */
export interface MLCEngineConfig {
  initProgressCallback?: (report: InitProgressReport) => void;
}

/** webmoe's load options for a WebLLM config, checked. */
function loadOptions(config: MLCEngineConfig, chatOpts: unknown): Pick<LoadOptions, 'onProgress'> {
  for (const key of Object.keys(config)) {
    if (key !== 'initProgressCallback') throw new EngineOptionError(`engineConfig.${key}`, 'is not supported by webmoe (only initProgressCallback)');
  }
  if (chatOpts !== undefined) throw new EngineOptionError('chatOpts', 'is not supported by webmoe: the model folder\'s config and chat template apply');
  const report = config.initProgressCallback;
  if (!report) return {};
  const start = performance.now();
  return {
    onProgress: (p: LoadProgress) =>
      report({ progress: p.totalBytes ? p.loadedBytes / p.totalBytes : 0, timeElapsed: (performance.now() - start) / 1000, text: `Loading ${p.tensor}` }),
  };
}

/** CreateMLCEngine over an entry point's loadModel (the browser's or Node's). */
export function mlcEngineCreator(load: (model: string, options: LoadOptions) => Promise<Engine>) {
  return async (model: string, engineConfig: MLCEngineConfig = {}, chatOpts?: unknown): Promise<Engine> => load(model, loadOptions(engineConfig, chatOpts));
}

/** WebLLM's CreateWebWorkerMLCEngine: the engine in `worker` (a started engine worker, see createWorkerEngine). */
export async function CreateWebWorkerMLCEngine(worker: Worker, model: string, engineConfig: MLCEngineConfig = {}, chatOpts?: unknown): Promise<WorkerEngine> {
  return createWorkerEngine(model, { worker, ...loadOptions(engineConfig, chatOpts) });
}
