// The storage-binding size webmoe plans with. A device's own limit can only be raised at creation,
// never lowered, so a smaller cap (to prove that splitting works, or to leave headroom) lives here.
const caps = new WeakMap<GPUDevice, number>();

/** Makes webmoe split every storage binding on `device` so that none exceeds `bytes`. */
export function capStorageBinding(device: GPUDevice, bytes: number): void {
  if (!Number.isInteger(bytes) || bytes < 4096) {
    throw new RangeError(`capStorageBinding: bytes must be an integer ≥ 4096, got ${bytes}`);
  }
  caps.set(device, bytes);
}

/** Largest storage binding webmoe will create on `device`, in bytes (a multiple of 4). */
export function storageBindingLimit(device: GPUDevice): number {
  const { maxStorageBufferBindingSize, maxBufferSize } = device.limits;
  const limit = Math.min(caps.get(device) ?? Infinity, maxStorageBufferBindingSize, maxBufferSize);
  return limit - (limit % 4);
}
