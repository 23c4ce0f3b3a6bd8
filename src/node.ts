// webmoe/node: a GPUDevice in Node from Dawn (the `webgpu` package).
import { create, globals } from 'webgpu';
import { deviceFrom, type DeviceOptions } from './gpu/device';

let gpu: GPU | undefined;

/** A Dawn device with the adapter's maximal limits (and shader-f16 when offered). */
export function createNodeDevice(options: DeviceOptions = {}): Promise<GPUDevice> {
  if (!gpu) {
    Object.assign(globalThis, globals);
    gpu = create([]) as GPU;
  }
  return deviceFrom(gpu, options,
    'Dawn needs a Vulkan driver; on Debian bookworm install Mesa lavapipe from bookworm-backports: ' +
    'apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1 (see .ci/install-system).');
}

export * from './index';
