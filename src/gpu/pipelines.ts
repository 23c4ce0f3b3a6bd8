// One compiled pipeline per (device, shader, override constants): creating them is the slow part.
const cache = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

/** `code`: one WGSL file, or several (preludes, then the kernel) joined into one module. */
export function computePipeline(
  device: GPUDevice,
  label: string,
  code: string | readonly string[],
  constants: Record<string, number> = {},
): GPUComputePipeline {
  let byKey = cache.get(device);
  if (!byKey) cache.set(device, (byKey = new Map()));
  const key = `${label} ${JSON.stringify(constants)}`;
  let pipeline = byKey.get(key);
  if (!pipeline) {
    const module = device.createShaderModule({ label, code: typeof code === 'string' ? code : join(code) });
    pipeline = device.createComputePipeline({
      label: key,
      layout: 'auto',
      compute: { module, entryPoint: 'main', constants },
    });
    byKey.set(key, pipeline);
  }
  return pipeline;
}

/** WGSL wants every `enable` before the first declaration: each file's move to the top. */
function join(files: readonly string[]): string {
  const lines = files.join('\n').split('\n');
  const isEnable = (l: string) => l.startsWith('enable ');
  return [...new Set(lines.filter(isEnable)), ...lines.filter((l) => !isEnable(l))].join('\n');
}
