// loadModel: the one call a web app makes: a WebGPU device (unless given) and an Engine.
import { createDevice } from '../gpu/device.js';
import { type DownloadProgress, modelUrlSource } from '../io/cacheSource.js';
import type { ModelCache } from '../io/modelStores.js';
import type { ModelSource } from '../io/source.js';
import { Engine, type LoadModelOptions } from './engine.js';

export interface LoadOptions extends LoadModelOptions {
  /** Run on this device; default: a new one from navigator.gpu with the adapter's limits. */
  device?: GPUDevice;
  /**
   * Where a URL's files are kept for the next visit: 'cache-api' (the default where the page has the
   * Cache API: a secure context), 'opfs', or 'none' (range requests, nothing kept). Node: always 'none'.
   */
  cache?: ModelCache;
  /** Called as the bytes of a file not yet cached arrive (the file is fetched whole before it is read). */
  onDownload?: (p: DownloadProgress) => void;
}

/** Loads a Hugging Face model folder: a URL (its files cached, see `cache`) or a ModelSource. */
export async function loadModel(model: string | ModelSource, options: LoadOptions = {}): Promise<Engine> {
  const source = typeof model === 'string' ? modelUrlSource(model, options) : model;
  const device = options.device ?? await createDevice();
  return Engine.load(device, source, options);
}
