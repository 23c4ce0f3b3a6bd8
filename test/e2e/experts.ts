// Runs in the expert-parallel test page: a model loaded by URL, fused on the page's device and with its
// routed experts sharded over module Workers (the TypeScript shard worker, transformed by Vite).
import { createDevice, loadModel, type LoadModelOptions } from '../../src/index.js';

export interface ShardedRun {
  logits: number[][];
  rowsPerWorker: number[];
  kinds: string[];
  layerCalls: number;
}

export async function runSharded(url: string, tokens: number[], configs: Partial<LoadModelOptions>[]) {
  const device = await createDevice();
  const shardWorkerUrl = new URL('/src/moe/sharded/shardWorker.ts', location.href);
  const logitsOf = async (o: Partial<LoadModelOptions>) => {
    const engine = await loadModel(url, { device, contextLength: 64, shardWorkerUrl, ...o });
    try {
      const logits = (await engine.logits(tokens)).map((r) => Array.from(r));
      const s = engine.experts?.stats();
      return { logits, rowsPerWorker: s?.rowsPerWorker ?? [], layerCalls: s?.layerCalls ?? 0, kinds: [...(engine.experts?.placement.kinds ?? [])] };
    } finally {
      engine.dispose();
    }
  };
  const fused = (await logitsOf({})).logits;
  const runs: ShardedRun[] = [];
  for (const o of configs) runs.push(await logitsOf(o));
  device.destroy();
  return { fused, runs };
}

Object.assign(globalThis, { runSharded });
