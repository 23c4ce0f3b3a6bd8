// webmoe/node: a GPUDevice in Node from Dawn (the `webgpu` package, an optional peer dependency so
// that browser apps do not install Dawn's binaries).
import { fileURLToPath } from 'node:url';
import { Engine } from './api/engine.js';
import type { LoadOptions } from './api/load.js';
import { deviceFrom, type DeviceOptions } from './gpu/device.js';
import { nodeDirSource } from './io/nodeSource.js';
import { type ModelSource, urlSource } from './io/source.js';

let gpu: Promise<GPU> | undefined;

async function dawn(): Promise<GPU> {
  let mod: typeof import('webgpu');
  try {
    mod = await import('webgpu');
  } catch (e) {
    throw new Error(`webmoe/node needs the 'webgpu' package (Dawn): npm install webgpu (${(e as Error).message})`);
  }
  Object.assign(globalThis, mod.globals);
  return mod.create([]) as GPU;
}

/** A Dawn device with the adapter's maximal limits (and shader-f16 when offered). */
export async function createNodeDevice(options: DeviceOptions = {}): Promise<GPUDevice> {
  gpu ??= dawn();
  return deviceFrom(await gpu, options,
    'Dawn needs a Vulkan driver; on Debian bookworm install Mesa lavapipe from bookworm-backports: ' +
    'apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1 (see .ci/install-system).');
}

// Relative to this module, which sits directly under src/ and dist/ alike. A variable, so that the
// build leaves the folder alone instead of treating `new URL('…', import.meta.url)` as an asset.
const BUNDLED = '../public/models/austen-moe/';
/** The folder of the bundled default model (a small Mixtral-layout MoE trained by scripts/model/). */
export const bundledModelDir: string = fileURLToPath(new URL(BUNDLED, import.meta.url));

/**
 * loadModel for Node: a local model folder, an http(s) URL or a ModelSource, on a Dawn device;
 * with no model, the bundled default model.
 */
export async function loadModel(model: string | ModelSource = bundledModelDir, options: LoadOptions = {}): Promise<Engine> {
  const source = typeof model !== 'string' ? model : /^https?:\/\//.test(model) ? urlSource(model) : nodeDirSource(model);
  return Engine.load(options.device ?? await createNodeDevice(), source, options);
}

export { nodeDirSource, nodeFile } from './io/nodeSource.js';
// Workers (createWorkerEngine, the expert-parallel `workers` option) start as worker_threads here.
export { nodeSpawner } from './workers/node.js';
export * from './index.js';
