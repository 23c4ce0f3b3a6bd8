// One compiled pipeline per (device, shader, override constants): creating them is the slow part.
const cache = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

export function computePipeline(
  device: GPUDevice,
  label: string,
  code: string,
  constants: Record<string, number> = {},
): GPUComputePipeline {
  let byKey = cache.get(device);
  if (!byKey) cache.set(device, (byKey = new Map()));
  const key = `${label} ${JSON.stringify(constants)}`;
  let pipeline = byKey.get(key);
  if (!pipeline) {
    const module = device.createShaderModule({ label, code });
    pipeline = device.createComputePipeline({
      label: key,
      layout: 'auto',
      compute: { module, entryPoint: 'main', constants },
    });
    byKey.set(key, pipeline);
  }
  return pipeline;
}
