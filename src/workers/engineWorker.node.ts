// The engine worker's entry in Node (a worker_threads Worker): the model from a folder or an http(s)
// URL, on a Dawn device; shard workers it starts (expert-parallel) are worker_threads too.
import { parentPort } from 'node:worker_threads';
import { expose } from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { fileListSource, urlSource } from '../io/source.js';
import { createNodeDevice, nodeDirSource } from '../node.js';
import { engineApi } from './engineHost.js';

expose(engineApi((model) => ({
  source: typeof model !== 'string' ? fileListSource(model) : /^https?:\/\//.test(model) ? urlSource(model) : nodeDirSource(model),
  device: () => createNodeDevice(),
})), nodeEndpoint(parentPort!));
