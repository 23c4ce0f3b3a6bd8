// exposeEngine: what a browser engine worker runs — the package's own (engineWorker.ts) or an app's,
// for bundlers that bundle a worker only where the app writes
// `new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' })`; the app then passes that
// Worker to createWorkerEngine's `worker` option and never imports comlink itself.
import { type Endpoint, expose } from 'comlink';
import { createDevice } from '../../gpu/device.js';
import { type DownloadProgress, modelUrlSource } from '../../io/cacheSource.js';
import { fileUrlsSource } from '../../io/fileUrlsSource.js';
import type { ModelCache } from '../../io/modelStores.js';
import { fileListSource, type ModelSource } from '../../io/source.js';
import { engineApi, type ModelSpec } from './engineHost.js';

/** The source of a model the page named, in a browser worker: URLs cached as loadModel caches them. */
export function modelSpecSource(model: ModelSpec, o: { cache?: ModelCache; onDownload?: (p: DownloadProgress) => void } = {}): ModelSource {
  if (typeof model === 'string') return modelUrlSource(model, o);
  return Array.isArray(model) ? fileListSource(model) : fileUrlsSource(model.files, o);
}

/** Serves the engine to the page that started this worker (createWorkerEngine's `worker`); `endpoint`: default the worker's global scope. */
export function exposeEngine(endpoint?: Endpoint): void {
  expose(engineApi((model, o) => ({
    source: modelSpecSource(model, o),
    device: () => createDevice(),
  })), endpoint);
}
