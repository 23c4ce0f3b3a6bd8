// Device creation with what MoE weights need: the adapter's maximal limits (storage bindings and
// buffers far above the 128/256 MiB defaults) and shader-f16 / subgroups / timestamp-query when offered.
import { capStorageBinding } from './limits.js';

export interface DeviceOptions {
  /** Plan storage bindings of at most this many bytes (to test splitting); default: the adapter's limit. */
  maxStorageBufferBindingSize?: number;
  /** Ask for shader-f16 when the adapter has it (what `f16Math` needs). Default true. */
  f16?: boolean;
  /** Ask for subgroups when the adapter has it (shuffles in the expert kernels' tile candidates). Default true. */
  subgroups?: boolean;
  /**
   * Let the tile trial pick f16 products in the prefill GEMM for f16/q8/q4 weights (needs shader-f16):
   * faster on many GPUs, at f16 rounding of activations. Default false, so that results never depend
   * on which candidate a trial timed fastest.
   */
  f16Math?: boolean;
  /**
   * 'adapter' (default): the adapter's maximal limits. 'default': WebGPU's default limits, which every
   * adapter offers (16 KiB of workgroup memory, 128 MiB bindings): to check that work runs anywhere.
   */
  limits?: 'adapter' | 'default';
}

const NO_ADAPTER = 'webmoe: no WebGPU adapter';
const f16Math = new WeakSet<GPUDevice>();

/** Whether `device` was created with `f16Math` (and has shader-f16). */
export const allowsF16Math = (device: GPUDevice): boolean => f16Math.has(device);

export async function deviceFrom(gpu: GPU | undefined, options: DeviceOptions, hint: string): Promise<GPUDevice> {
  const adapter = await gpu?.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error(`${NO_ADAPTER}. ${hint}`);
  const requiredLimits: Record<string, number> = {};
  if (options.limits !== 'default') {
    for (const key in adapter.limits) {
      const v = adapter.limits[key as keyof GPUSupportedLimits];
      if (typeof v === 'number') requiredLimits[key] = v;
    }
  }
  const requiredFeatures: GPUFeatureName[] = [];
  if ((options.f16 ?? true) && adapter.features.has('shader-f16')) requiredFeatures.push('shader-f16');
  if ((options.subgroups ?? true) && adapter.features.has('subgroups')) requiredFeatures.push('subgroups');
  if (adapter.features.has('timestamp-query')) requiredFeatures.push('timestamp-query');
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  if (options.maxStorageBufferBindingSize !== undefined) capStorageBinding(device, options.maxStorageBufferBindingSize);
  if (options.f16Math && device.features.has('shader-f16')) f16Math.add(device);
  return device;
}

/** A device from the browser's navigator.gpu (or any global one), with the adapter's maximal limits. */
export function createDevice(options: DeviceOptions = {}): Promise<GPUDevice> {
  const gpu = typeof navigator === 'undefined' ? undefined : navigator.gpu;
  return deviceFrom(gpu, options, 'This browser has no WebGPU, or it is turned off (in Chromium: chrome://flags/#enable-unsafe-webgpu).');
}
