import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alignKernel, type BlockRows, maxBlocks } from '../../src/kernels/align.js';
import { Workspace } from '../../src/gpu/workspace.js';
import { poisoned, runKernels, readU32, testDevice } from '../helpers/gpu.js';
import { refAlign } from '../ref/align.js';
import { Rng } from '../ref/rng.js';

let device: GPUDevice;
beforeAll(async () => {
  device = await testDevice();
});
afterAll(() => device?.destroy());

async function expectAligned(ids: Uint32Array, experts: number, rows: BlockRows = 32) {
  const slots = ids.length;
  const blocks = maxBlocks(slots, experts, rows);
  const counts = new Uint32Array(experts);
  for (const e of ids) counts[e]++;
  const ws = new Workspace(device);
  const sorted = poisoned(device, blocks * rows * 4);
  const blockExpert = poisoned(device, blocks * 4);
  await runKernels(device, () => [
    alignKernel(ws, { ids: ws.upload(ids, 'ids'), counts: ws.upload(counts, 'counts'), sorted, blockExpert }, slots, experts, rows),
  ]);
  const ref = refAlign(ids, experts, rows, blocks);
  expect(Array.from(await readU32(device, blockExpert, blocks))).toEqual(ref.blockExpert);
  expect(Array.from(await readU32(device, sorted, blocks * rows))).toEqual(ref.sorted);
  ws.destroy();
}

describe('alignment kernel', () => {
  it('sorts slots by expert, stable, padded per expert, over random routings', async () => {
    const rng = new Rng(11);
    for (let i = 0; i < 10; i++) {
      const T = rng.pick([1, 2, 7, 64, 300]);
      const E = rng.pick([1, 4, 8, 32, 64]);
      const k = Math.min(E, rng.pick([1, 2, 4, 8]));
      await expectAligned(Uint32Array.from({ length: T * k }, () => rng.int(0, E - 1)), E, rng.pick([8, 16, 32] as const));
    }
  });

  it('all tokens on one expert, and experts with no tokens', async () => {
    await expectAligned(new Uint32Array(300 * 2).fill(5), 8);
    await expectAligned(new Uint32Array(257).fill(63), 64);
    const rng = new Rng(12);
    await expectAligned(Uint32Array.from({ length: 700 }, () => rng.pick([0, 31])), 32);
  });

  it('one slot, and runs that exactly fill a block', async () => {
    await expectAligned(new Uint32Array([3]), 4);
    for (const rows of [8, 16, 32] as const) await expectAligned(Uint32Array.from({ length: 4 * rows }, (_, s) => s % 4), 4, rows);
  });
});
