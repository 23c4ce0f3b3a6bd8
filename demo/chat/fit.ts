// Will the model fit? The GPU memory its weights (in the chosen dtype) and KV cache take, checked
// against what the browser tells of the machine before loading, and the GPU's out-of-memory errors
// during the load turned into that same message.
import { type Checkpoint, FORMATS, readConfig, type WeightDType } from '../../src/index.js';
import { mb } from '../common/status.js';

/** The model is too big for this device (a sentence for the user, so the plain name 'Error'). */
export class ModelFitError extends Error {}

/** The MLP matrices (experts, shared experts, dense MLPs): those q8 and q4 quantize; the other matrices stay f16. */
const MLP = /experts|mlp|block_sparse_moe/;

/** GPU bytes of the weights at `dtype` (about: norms and routers are f32, and small) plus the KV cache. */
export function gpuBytes(ckpt: Checkpoint, dtype: WeightDType): number {
  let weights = 0;
  for (const [name, t] of ckpt.tensors) {
    const inner = t.shape.at(-1) ?? 1;
    const rows = t.shape.reduce((a, b) => a * b, 1) / inner;
    const stored = t.shape.length < 2 ? 'f32' : (dtype === 'q8' || dtype === 'q4') && !MLP.test(name) ? 'f16' : dtype;
    weights += rows * FORMATS[stored].rowBytes(inner);
  }
  const c = readConfig(ckpt.config).config;
  const kv = c.layers * 2 * c.kvHeads * c.headDim * 4 * Math.min(c.maxPositions, 2048);
  return weights + kv;
}

const tooBig = (bytes: number, dtype: WeightDType, why: string) =>
  new ModelFitError(`The model does not fit: it needs about ${mb(bytes)} MB of GPU memory with ${dtype} weights, ${why}.` +
    `${dtype === 'f32' ? ' Try f16 weights, or' : ' Try'} a smaller model.`);

/** Refuses a model larger than the memory the browser reports (navigator.deviceMemory, in GiB, where given). */
export function checkFits(bytes: number, dtype: WeightDType): void {
  const gib = (navigator as { deviceMemory?: number }).deviceMemory;
  if (gib && bytes > gib * 2 ** 30) throw tooBig(bytes, dtype, `more than the ${gib} GiB of memory this device reports`);
}

/** Runs `load` inside an out-of-memory error scope; a GPU allocation failure becomes ModelFitError. */
export async function catchOutOfMemory<T extends { dispose(): void }>(
  device: GPUDevice,
  bytes: number,
  dtype: WeightDType,
  load: () => Promise<T>,
): Promise<T> {
  device.pushErrorScope('out-of-memory');
  let result: T | undefined;
  let failure: unknown;
  try {
    result = await load();
  } catch (e) {
    failure = e;
  }
  const oom = await device.popErrorScope();
  if (oom) {
    result?.dispose();
    throw tooBig(bytes, dtype, `and the GPU ran out of memory (${oom.message})`);
  }
  if (failure !== undefined) {
    if (failure instanceof RangeError && /allocat|memory/i.test(failure.message)) {
      throw tooBig(bytes, dtype, `and the browser refused a buffer (${failure.message})`);
    }
    throw failure;
  }
  return result!;
}
