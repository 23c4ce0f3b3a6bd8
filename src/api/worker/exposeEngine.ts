// exposeEngine: what a browser engine worker runs — the package's own (engineWorker.ts) or an app's,
// for bundlers that bundle a worker only where the app writes
// `new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' })`; the app then passes that
// Worker to createWorkerEngine's `worker` option and never imports comlink itself.
import { type Endpoint, expose } from 'comlink';
import { createDevice } from '../../gpu/device.js';
import { modelUrlSource } from '../../io/cacheSource.js';
import { fileListSource } from '../../io/source.js';
import { engineApi } from './engineHost.js';

/** Serves the engine to the page that started this worker (createWorkerEngine's `worker`); `endpoint`: default the worker's global scope. */
export function exposeEngine(endpoint?: Endpoint): void {
  expose(engineApi((model, o) => ({
    source: typeof model === 'string' ? modelUrlSource(model, o) : fileListSource(model),
    device: () => createDevice(),
  })), endpoint);
}
