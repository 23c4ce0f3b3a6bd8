import { it } from 'vitest';
import { MoELayer } from '../src/index';
import { Workspace } from '../src/gpu/workspace';
import { randomArray } from '../src/bench/timing';
async function medianMs(device: GPUDevice, encode: (enc: GPUCommandEncoder) => void, runs: number) {
  let best = Infinity;
  for (let i = 0; i <= runs; i++) {
    const enc = device.createCommandEncoder(); encode(enc);
    const t0 = performance.now(); device.queue.submit([enc.finish()]); await device.queue.onSubmittedWorkDone();
    if (i) best = Math.min(best, performance.now() - t0);
  }
  return best;
}
import { testDevice } from './helpers/gpu';

it('profile decode', async () => {
  const device = await testDevice();
  const H = 2048, I = 768, E = 32, k = 4;
  for (const dtype of ['f32', 'f16'] as const) {
  const layer = MoELayer.create(device, { hidden: H, intermediate: I, numExperts: E, topK: k, normTopK: true, dtype },
    { router: randomArray(E * H, 1, 0.02), gateUp: randomArray(E * 2 * I * H, 2, 0.02), down: randomArray(E * H * I, 3, 0.03) });
  const ws = new Workspace(device);
  for (const T of [1, 4]) {
  const x = ws.upload(randomArray(T * H, 4), 'x');
  const y = ws.buffer(T * H * 4, 'y');
  const total = await medianMs(device, (enc) => layer.encode(enc, x, y, T), 11);
  const plan = (layer as any).plans.get(T);
  const ds = plan.dispatches as ((p: GPUComputePassEncoder) => void)[];
  const n = ds.length;
  const time = (sub: typeof ds) => medianMs(device, (enc) => { const p = enc.beginComputePass(); for (const d of sub) d(p); p.end(); }, 11);
  const chunks = (n - 2) / 2;
  console.log(dtype, 'T', T, 'total', total.toFixed(2), 'dispatches', n, 'router', (await time([ds[0]])).toFixed(2),
    'gemv1', (await time(ds.slice(1, 1 + chunks))).toFixed(2), 'gemv2', (await time(ds.slice(1 + chunks, 1 + 2 * chunks))).toFixed(2),
    'combine', (await time([ds[n - 1]])).toFixed(2), 'floor ms', (T * k * 3 * H * I * (dtype === 'f16' ? 2 : 4) / 3.58e6).toFixed(2));
  }
  layer.destroy();
  }
});
