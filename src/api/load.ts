// loadModel: the one call a web app makes: a WebGPU device (unless given) and an Engine.
import { createDevice } from '../gpu/device.js';
import { type ModelSource, urlSource } from '../io/source.js';
import { Engine, type LoadModelOptions } from './engine.js';

export interface LoadOptions extends LoadModelOptions {
  /** Run on this device; default: a new one from navigator.gpu with the adapter's limits. */
  device?: GPUDevice;
}

/** Loads a Hugging Face model folder: a URL (its files fetched with range requests) or a ModelSource. */
export async function loadModel(model: string | ModelSource, options: LoadOptions = {}): Promise<Engine> {
  const device = options.device ?? await createDevice();
  return Engine.load(device, typeof model === 'string' ? urlSource(model) : model, options);
}
