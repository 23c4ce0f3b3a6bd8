// Will the model fit? The GPU memory its weights (in the chosen dtype) and KV cache take, checked
// against what the browser tells of the machine before loading, and the GPU's out-of-memory errors
// during the load turned into that same message.
import { type Checkpoint, readConfig, type WeightDType } from '../../src/index.js';
import { declaredWeights } from '../../src/model/load.js';
import { kvCacheBytes } from '../../src/model/memory.js';
import { mb } from '../common/status.js';

/** The model is too big for this device (a sentence for the user, so the plain name 'Error'). */
export class ModelFitError extends Error {}

/** GPU bytes of the weights at `dtype` and the KV cache of the default context, as the loader will allocate them. */
export function gpuBytes(ckpt: Checkpoint, dtype: WeightDType): number {
  const { family, config } = readConfig(ckpt.config);
  return declaredWeights(family, config, dtype).gpuBytes + kvCacheBytes(config, Math.min(config.maxPositions, 2048));
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
