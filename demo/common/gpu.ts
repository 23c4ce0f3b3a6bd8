// What a page needs to know before it asks for a device: is there WebGPU, an adapter, and does the
// adapter offer the limits webmoe's kernels need. Each failure is a sentence a user can act on.
import { adapterName } from '../../src/bench/report.js';

/** Limits every webmoe kernel stays within: WebGPU's defaults, which a conforming adapter offers. */
export const REQUIRED_LIMITS = {
  maxStorageBuffersPerShaderStage: 8,
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxStorageBufferBindingSize: 1 << 20,
} as const;

/** The adapter cannot run webmoe (its message is the whole story, so it keeps the plain name 'Error'). */
export class DeviceSupportError extends Error {}

export async function requestAdapter(): Promise<GPUAdapter> {
  if (typeof navigator === 'undefined' || !navigator.gpu) {
    throw new DeviceSupportError(
      'This browser has no WebGPU (or it is turned off). Use a recent Chrome, Edge or Safari, or in Chromium enable chrome://flags/#enable-unsafe-webgpu.',
    );
  }
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    throw new DeviceSupportError(
      'WebGPU is present but the browser offers no adapter (GPU blocklisted or no driver). Try another browser or enable a software adapter.',
    );
  }
  return adapter;
}

/** The adapter, if it offers the limits webmoe needs; else a DeviceSupportError naming those it lacks. */
export function checkLimits(adapter: GPUAdapter): GPUAdapter {
  const missing = Object.entries(REQUIRED_LIMITS).flatMap(([key, need]) => {
    const has = adapter.limits[key as keyof GPUSupportedLimits] as number;
    return has < need ? [`${key}: the adapter offers ${has}, webmoe needs ${need}`] : [];
  });
  if (missing.length) throw new DeviceSupportError(`This GPU adapter lacks limits webmoe needs: ${missing.join('; ')}.`);
  return adapter;
}

/** Software adapters (SwiftShader, llvmpipe, WARP): the benchmark page offers its quick preset. */
export function isSoftwareAdapter(adapter: GPUAdapter): boolean {
  const info = adapter.info;
  const fallback = (info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter === true;
  return fallback || /swiftshader|llvmpipe|lavapipe|warp|software/i.test(adapterName(info));
}
