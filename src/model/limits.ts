// What a forward call must fit: errors for calls the decoder or a block cannot run on this device.
import { storageBindingLimit } from '../gpu/limits.js';

export class DecoderInputError extends Error {
  override name = 'DecoderInputError';
}

/** Throws DecoderInputError unless an activation buffer of `bytes` fits one storage binding. */
export function checkActivation(device: GPUDevice, bytes: number, tokens: number): void {
  const limit = storageBindingLimit(device);
  if (bytes > limit) {
    throw new DecoderInputError(
      `webmoe: ${tokens} tokens need a ${bytes}-byte activation buffer, over the storage binding limit ${limit}: run fewer tokens per call`,
    );
  }
}
