// webmoe/node: a GPUDevice in Node from Dawn (the `webgpu` package).
import { create, globals } from 'webgpu';
import { capStorageBinding } from './gpu/limits';

export interface NodeDeviceOptions {
  /** Plan storage bindings of at most this many bytes (to test splitting); default: the adapter's limit. */
  maxStorageBufferBindingSize?: number;
  /** Ask for shader-f16 when the adapter has it. Default true. */
  f16?: boolean;
}

let gpu: GPU | undefined;

/** A device with the adapter's maximal limits (and shader-f16 when offered). */
export async function createNodeDevice(options: NodeDeviceOptions = {}): Promise<GPUDevice> {
  if (!gpu) {
    Object.assign(globalThis, globals);
    gpu = create([]) as GPU;
  }
  const adapter = await gpu.requestAdapter();
  if (!adapter) {
    throw new Error(
      'webmoe: no WebGPU adapter. Dawn needs a Vulkan driver; on Debian bookworm install Mesa lavapipe from ' +
      'bookworm-backports: apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1 (see .ci/install-system)',
    );
  }
  const requiredLimits: Record<string, number> = {};
  for (const key in adapter.limits) {
    const v = adapter.limits[key as keyof GPUSupportedLimits];
    if (typeof v === 'number') requiredLimits[key] = v;
  }
  const requiredFeatures: GPUFeatureName[] = [];
  if ((options.f16 ?? true) && adapter.features.has('shader-f16')) requiredFeatures.push('shader-f16');
  if (adapter.features.has('timestamp-query')) requiredFeatures.push('timestamp-query');
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  if (options.maxStorageBufferBindingSize !== undefined) capStorageBinding(device, options.maxStorageBufferBindingSize);
  return device;
}

export * from './index';
