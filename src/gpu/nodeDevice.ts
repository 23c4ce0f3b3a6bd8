// A GPUDevice in Node from Dawn (the `webgpu` package, an optional peer dependency so that browser
// apps do not install Dawn's binaries). Node only: the browser build never imports this file.
import { deviceFrom, type DeviceOptions } from './device.js';

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
  return deviceFrom(await gpu, options, 'Dawn needs a Vulkan driver; on Debian bookworm install Mesa lavapipe from bookworm-backports: ' +
    'apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1 (see .ci/install-system).');
}
