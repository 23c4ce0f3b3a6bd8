// An engine on a model folder (or source) for a suite: loaded before its tests, disposed of (with its device) after.
import { afterAll, beforeAll } from 'vitest';
import { Engine, type LoadModelOptions } from '../../src/api/engine.js';
import { nodeDirSource } from '../../src/io/nodeSource.js';
import type { ModelSource } from '../../src/io/source.js';
import { testDevice } from './gpu.js';

/** Call in a describe(); the returned function gives the engine inside its tests. */
export function suiteEngine(dir: string | ModelSource, options?: LoadModelOptions): () => Engine {
  let device: GPUDevice | undefined;
  let engine: Engine | undefined;
  beforeAll(async () => {
    device = await testDevice();
    engine = await Engine.load(device, typeof dir === 'string' ? nodeDirSource(dir) : dir, options);
  });
  afterAll(() => {
    engine?.dispose();
    device?.destroy();
  });
  return () => engine!;
}
