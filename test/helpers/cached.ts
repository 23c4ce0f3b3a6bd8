// Fixture decoders whose routed experts live in the expert cache (src/moe/cached/), for the cache's tests.
import { openCheckpoint } from '../../src/io/checkpoint.js';
import { nodeDirSource } from '../../src/io/nodeSource.js';
import type { ModelSource } from '../../src/io/source.js';
import { moeConfigOf, sparseLayers } from '../../src/model/config.js';
import type { Decoder } from '../../src/model/decoder.js';
import { readConfig } from '../../src/model/families/registry.js';
import { loadDecoder } from '../../src/model/load.js';
import { CachedExperts, type ExpertCacheOptions } from '../../src/moe/cached/experts.js';
import type { WeightDType } from '../../src/weights/format.js';
import { swigluExpertBytes } from '../../src/weights/matrix.js';
import { modelDir } from './models.js';

/** Options of a cache of `slots` experts (and none on the host unless given) for fixture `name`, its decoder holding maxSequences. */
export type SlotOptions = Omit<ExpertCacheOptions, 'expertCacheBytes'> & { slots: number; dtype?: WeightDType; maxSequences?: number };

export async function cachedDecoder(device: GPUDevice, name: string, o: SlotOptions, source: ModelSource = nodeDirSource(modelDir(name))): Promise<
  { decoder: Decoder; cache: CachedExperts }
> {
  const ckpt = await openCheckpoint(source);
  const { family, config } = readConfig(ckpt.config);
  const dtype = config.expertStorage ?? o.dtype ?? 'f32';
  const cache = CachedExperts.create(device, moeConfigOf(config), sparseLayers(config), dtype, {
    hostCacheBytes: 0,
    ...o,
    expertCacheBytes: o.slots * swigluExpertBytes(config.hidden, config.moeIntermediate, dtype),
  });
  try {
    return {
      decoder: await loadDecoder(device, ckpt, family, config, { contextLength: 64, tune: false, dtype: o.dtype, experts: cache,
        maxSequences: o.maxSequences }),
      cache,
    };
  } catch (e) {
    cache.dispose();
    throw e;
  }
}
