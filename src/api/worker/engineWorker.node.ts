// The engine worker's entry in Node (a worker_threads Worker): the model from a folder or an http(s)
// URL, on a Dawn device; shard workers it starts (expert-parallel) are worker_threads too.
import { parentPort } from 'node:worker_threads';
import { expose } from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { createNodeDevice } from '../../gpu/nodeDevice.js';
import { nodeModelSource } from '../../io/nodeSource.js';
import { fileUrlsSource } from '../../io/fileUrlsSource.js';
import { fileListSource } from '../../io/source.js';
import '../../platform/nodeWorkers.js'; // shard workers it starts are worker_threads too
import '../../platform/nodeXGrammar.js'; // structured output's grammar library, run as CommonJS
import { engineApi } from './engineHost.js';

expose(engineApi((model) => ({
  source: typeof model === 'string' ? nodeModelSource(model) : Array.isArray(model) ? fileListSource(model) : fileUrlsSource(model.files),
  device: () => createNodeDevice(),
})), nodeEndpoint(parentPort!));
