// One compiled pipeline per (device, key): creating them is the slow part. The key names the code and
// the override constants (src/kernels/kernel.ts derives it from a kernel's files and overrides).
const cache = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

export function computePipeline(device: GPUDevice, key: string, code: () => string, constants: Record<string, number>): GPUComputePipeline {
  let byKey = cache.get(device);
  if (!byKey) cache.set(device, byKey = new Map());
  let pipeline = byKey.get(key);
  if (!pipeline) {
    const module = device.createShaderModule({ label: key, code: code() });
    pipeline = device.createComputePipeline({ label: key, layout: 'auto', compute: { module, entryPoint: 'main', constants } });
    byKey.set(key, pipeline);
  }
  return pipeline;
}
