// Test device and buffer helpers. Tests run real WGSL on a real adapter (Dawn; lavapipe on CI).
import { createNodeDevice } from '../../src/node.js';
import type { DeviceOptions } from '../../src/gpu/device.js';
import { type Dispatch, readBuffers, uploadBuffer } from '../../src/gpu/workspace.js';

/** NaN as f32, a huge id as u32: an element no kernel wrote shows up as wrong. */
const POISON = 0x7fbadbad;

export async function testDevice(options?: DeviceOptions): Promise<GPUDevice> {
  const device = await createNodeDevice(options);
  device.addEventListener('uncapturederror', (e) => {
    throw new Error(`uncaptured WebGPU error: ${(e as GPUUncapturedErrorEvent).error.message}`);
  });
  return device;
}

export function poisoned(device: GPUDevice, bytes: number, label = 'poisoned'): GPUBuffer {
  return uploadBuffer(device, new Uint32Array(Math.ceil(bytes / 4)).fill(POISON), label);
}

export async function readF32(device: GPUDevice, b: GPUBuffer, n: number): Promise<Float32Array> {
  return new Float32Array((await readBuffers(device, [b]))[0], 0, n);
}

export async function readU32(device: GPUDevice, b: GPUBuffer, n: number): Promise<Uint32Array> {
  return new Uint32Array((await readBuffers(device, [b]))[0], 0, n);
}

/** Throws the first validation error raised while `f` runs (kernels that fail to compile, bad bindings). */
export async function checked<T>(device: GPUDevice, f: () => T | Promise<T>): Promise<T> {
  device.pushErrorScope('validation');
  const out = await f();
  const err = await device.popErrorScope();
  if (err) throw new Error(`WebGPU validation error: ${err.message}`);
  return out;
}

/** Builds launches, runs them in one compute pass, and throws the first validation error. */
export async function runKernels(device: GPUDevice, build: () => Dispatch[]): Promise<void> {
  await checked(device, () => {
    const dispatches = build();
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (const d of dispatches) d(pass);
    pass.end();
    device.queue.submit([enc.finish()]);
  });
}
