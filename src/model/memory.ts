// The GPU memory a model takes, known before anything is allocated: its matrices in their storage
// (from the loader's dry declaration) and its KV caches (from the config, as the attention blocks and
// the decoder size them; a test holds the two to the buffers a load makes). Checked against a limit so
// that a model too big for the machine is refused by name before loading, instead of failing midway or,
// on a software adapter whose GPU memory is the host's, taking the process down.
import { ringPositions } from './decoder.js';
import type { ModelConfig } from './config.js';

export class ModelMemoryError extends RangeError {
  override name = 'ModelMemoryError';
}

export interface ModelMemory {
  /** the weight matrices on the GPU, in their storage (routed experts kept elsewhere not counted) */
  weights: number;
  /** every layer's KV cache for the context (a sliding window's ring where it has one), for every sequence it holds */
  kvCache: number;
}

/**
 * Bytes of every layer's KV cache for `contextLength` positions of each of `sequences` (maxSequences):
 * K and V per KV head, or MLA's latent.
 */
export function kvCacheBytes(c: Readonly<ModelConfig>, contextLength: number, sequences = 1): number {
  const perPosition = c.mla ? (c.mla.kvLoraRank + c.mla.qkRopeHeadDim) * 4 : 2 * c.kvHeads * c.headDim * 4;
  let positions = 0;
  for (let l = 0; l < c.layers; l++) {
    const w = c.windows?.[l];
    positions += w === undefined ? contextLength : ringPositions(w, contextLength);
  }
  return perPosition * positions * sequences;
}

const GB = (n: number) => `${(n / 2 ** 30).toFixed(2)} GiB`;

/** Throws ModelMemoryError when `need` exceeds `limit` bytes, saying what takes it and what lowers it. */
export function checkMemory(need: ModelMemory, limit: number | undefined, model: string): void {
  if (limit === undefined || need.weights + need.kvCache <= limit) return;
  throw new ModelMemoryError(
    `webmoe: ${model} needs ${GB(need.weights + need.kvCache)} of GPU memory (weights ${GB(need.weights)}, KV cache ${GB(need.kvCache)}), ` +
      `over the ${
        GB(limit)
      } allowed (memoryLimit): load with a smaller dtype ('q4'), a shorter contextLength, fewer maxSequences, or on a device with more memory`,
  );
}
