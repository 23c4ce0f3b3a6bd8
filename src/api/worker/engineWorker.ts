// The engine worker's entry in the browser (a module Worker): the model from a URL or File objects,
// on navigator.gpu's device. The page's thread never runs a kernel or parses a weight.
import { expose } from 'comlink';
import { createDevice } from '../../gpu/device.js';
import { fileListSource, urlSource } from '../../io/source.js';
import { engineApi } from './engineHost.js';

expose(engineApi((model) => ({
  source: typeof model === 'string' ? urlSource(model) : fileListSource(model),
  device: () => createDevice(),
})));
