// Bad placements are refused before any worker starts; a shard worker that throws or dies in the
// middle of a forward fails the request with an error naming the worker and its experts (no hang),
// and the engine can be disposed and loaded again.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, type LoadModelOptions } from '../../../src/api/engine.js';
import { nodeDirSource } from '../../../src/io/nodeSource.js';
import { relativeError } from '../../../src/moe/reference.js';
import '../../../src/platform/nodeWorkers.js';
import { testDevice } from '../../helpers/gpu.js';
import { golden, modelDir } from '../../helpers/models.js';
import { buildWorkers } from '../../helpers/workers.js';

/**
 * A shard worker that runs the real one, and fails on its second batch of rows (its listener runs
 * before Comlink's and stops the message, so the batch never starts: see docs/workers.md on Dawn and
 * workers ended during a readback).
 */
function faultyShard(dir: string, fault: 'throw' | 'exit'): URL {
  const trap = join(dir, `fault-${fault}.mjs`);
  writeFileSync(trap, `import { parentPort } from 'node:worker_threads';
let runs = 0;
parentPort.addEventListener('message', (event) => {
  const m = event.data;
  if (m && m.type === 'APPLY' && m.path && m.path[0] === 'run' && ++runs === 2) {
    event.stopImmediatePropagation();
    ${fault === 'throw' ? 'throw new Error(\'injected fault\');' : 'process.exit(9);'}
  }
});
`);
  const file = join(dir, `faulty-shard-${fault}.mjs`);
  writeFileSync(file, `import './fault-${fault}.mjs';\nimport './shard-worker-node.js';\n`);
  return pathToFileURL(file);
}

describe('expert-parallel faults', () => {
  let device: GPUDevice;
  let dir: string;
  const load = (o: LoadModelOptions) => Engine.load(device, nodeDirSource(modelDir('mixtral')), { contextLength: 64, ...o });

  beforeAll(async () => {
    dir = await buildWorkers();
    device = await testDevice();
  });
  afterAll(() => device.destroy());

  it('a placement that misses or repeats an expert is refused before any worker starts', async () => {
    let started = 0;
    const shardWorkerUrl = () => {
      started++;
      return undefined;
    };
    await expect(load({ workers: 2, placement: [[0, 1, 2], [3, 4, 5, 6]], shardWorkerUrl }))
      .rejects.toThrow(/PlacementError|placement of layer 0 misses expert 7/);
    await expect(load({ workers: 2, placement: [[0, 1, 2, 3], [2, 4, 5, 6, 7]], shardWorkerUrl }))
      .rejects.toThrow('webmoe: placement of layer 0 repeats expert 2 (workers 0 and 1)');
    await expect(load({ workers: 2, placement: { 0: [[0, 1, 2, 3], [4, 5, 6, 7]] }, shardWorkerUrl }))
      .rejects.toThrow('webmoe: the placement has no map for layer 1');
    await expect(load({ workers: ['gpu'], placement: [[0, 1, 2, 3], [4, 5, 6, 7]], shardWorkerUrl }))
      .rejects.toThrow('webmoe: placement of layer 0 names 2 workers, the options give 1');
    await expect(load({ workers: 1, gpuExpertBudgetBytes: 0, cpuWorkers: 0, shardWorkerUrl }))
      .rejects.toThrow('webmoe: the GPU budget holds 0 of 8 experts per layer, and cpuWorkers is 0');
    expect(started).toBe(0);
  });

  // The faulty worker is a CPU shard: a worker thread that dies while it holds a Dawn device can
  // take the whole Node process down with it (Dawn's Node binding; docs/workers.md, Faults), which would
  // crash the test runner, not fail the request. Death detection and naming do not depend on the kind.
  it.each(['throw', 'exit'] as const)('a shard worker that %ss mid-request fails it with its name and experts; dispose and reload work', async (fault) => {
    const faulty = faultyShard(dir, fault);
    const engine = await load({
      workers: ['gpu', 'cpu'],
      placement: [[0, 1, 2, 3], [4, 5, 6, 7]],
      shardWorkerUrl: (w) => (w === 1 ? faulty : undefined),
    });
    const g = golden('mixtral');
    const why = fault === 'throw' ? 'injected fault' : 'exited with code 9';
    // The forward's first MoE layer is the worker's first batch, the second layer its second.
    await expect(engine.logits(g.tokens)).rejects.toThrow(`webmoe: shard worker 1 (cpu) in layer 1 (experts 4-7) died: ${why}`);
    await expect(engine.logits(g.tokens)).rejects.toThrow(/shard worker 1 \(cpu\) in layer 0 \(experts 4-7\) died/);
    engine.dispose();
    const again = await load({ workers: 2 });
    const fused = await load({});
    try {
      const [a, b] = [await again.logits(g.tokens), await fused.logits(g.tokens)];
      a.forEach((row, t) => expect(relativeError(row, b[t])).toBeLessThan(1e-5));
    } finally {
      again.dispose();
      fused.dispose();
    }
  });
});
