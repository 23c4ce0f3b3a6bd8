// Hub MXFP4 tensors into a matrix (src/weights/mxfp4Rows.ts): a blocks/scales pair streamed from a
// safetensors file in pieces that end anywhere in a row, rows mapped by rowOf (gpt-oss's interleaved
// gate/up), over small bindings, read back against the file's values decoded here.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openCheckpoint, streamTensors } from '../../src/io/checkpoint.js';
import { encodeSafetensors } from '../../src/io/safetensors.js';
import { createExpertMatrix, destroyExpertMatrix } from '../../src/weights/matrix.js';
import { mxfp4Sinks } from '../../src/weights/mxfp4Rows.js';
import { testDevice } from '../helpers/gpu.js';
import { readMatrix } from '../helpers/matrix.js';
import { hubMxfp4, hubValues, mapped } from '../helpers/mxfp4.js';
import { memSource } from '../io/mem.js';
import { Rng } from '../ref/rng.js';

describe('Hub MXFP4 tensors into a matrix', () => {
  let tiny: GPUDevice; // 4 KiB bindings
  beforeAll(async () => {
    tiny = await testDevice({ maxStorageBufferBindingSize: 4096 });
  });
  afterAll(() => tiny?.destroy());

  it('streams blocks and scales in pieces that split rows, with interleaved gate/up rows, over small bindings', async () => {
    const rng = new Rng(95);
    // Bindings of 39 gate/up columns (2 an expert); of 2 experts of down rows; of a whole small matrix.
    for (const [E, I, K, parts, chunks] of [[3, 48, 96, 2, 6], [3, 40, 64, 1, 2], [1, 8, 32, 2, 1]] as const) {
      const R = parts * I;
      const t = hubMxfp4(rng, E, R, K);
      const source = memSource({ 'config.json': '{}', 'model.safetensors': encodeSafetensors({ 'w.blocks': t.blocks, 'w.scales': t.scales }) }, 1000);
      const ckpt = await openCheckpoint(source);
      const m = createExpertMatrix(tiny, { experts: E, parts, outputs: I, inner: K }, 'mxfp4', 'm');
      expect(m.chunks.length).toBe(chunks);
      const rowOf = parts === 2 ? (r: number) => (r % 2) * I + (r >> 1) : (r: number) => R - 1 - r;
      const sinks = mxfp4Sinks(tiny, m, [E, R, K], { name: 'w.scales', file: 'model.safetensors' }, rowOf);
      // 48 bytes a piece: 3 of the blocks tensor's rows of 16 bytes, never a whole matrix row of K/2.
      await streamTensors(ckpt, new Map([['w.blocks', sinks.blocks], ['w.scales', sinks.scales]]), { pieceBytes: 48 });
      expect(Array.from(await readMatrix(tiny, m))).toEqual(Array.from(mapped(hubValues(t, K), R, K, rowOf)));
      destroyExpertMatrix(m);
    }
  });

  it('writes the GPU in runs of rows, not row by row: two runs an expert (gate rows, up rows) for each tensor', async () => {
    const device = await testDevice();
    const [E, I, K] = [4, 64, 64];
    const t = hubMxfp4(new Rng(96), E, 2 * I, K);
    const ckpt = await openCheckpoint(
      memSource({ 'config.json': '{}', 'model.safetensors': encodeSafetensors({ 'w.blocks': t.blocks, 'w.scales': t.scales }) }, 4096),
    );
    const m = createExpertMatrix(device, { experts: E, parts: 2, outputs: I, inner: K }, 'mxfp4', 'm');
    const rowOf = (r: number) => (r % 2) * I + (r >> 1);
    const sinks = mxfp4Sinks(device, m, [E, 2 * I, K], { name: 'w.scales', file: 'model.safetensors' }, rowOf);
    const writes = vi.spyOn(device.queue, 'writeBuffer');
    await streamTensors(ckpt, new Map([['w.blocks', sinks.blocks], ['w.scales', sinks.scales]]));
    expect(writes).toHaveBeenCalledTimes(2 * 2 * E); // of 2 · 2 · E · I rows
    writes.mockRestore();
    expect(Array.from(await readMatrix(device, m))).toEqual(Array.from(mapped(hubValues(t, K), 2 * I, K, rowOf)));
    device.destroy();
  });

  it('refuses a NaN scale byte by tensor and place, a matrix of another shape or storage, and a rowOf that is no permutation', async () => {
    const m = createExpertMatrix(tiny, { experts: 2, parts: 2, outputs: 4, inner: 64 }, 'mxfp4', 'm');
    const where = { name: 'w.scales', file: 'model.safetensors' };
    const { scales } = mxfp4Sinks(tiny, m, [2, 8, 64], where);
    const bytes = new Uint8Array(2 * 8 * 2).fill(127);
    bytes[2 * 8 + 5 * 2 + 1] = 255;
    expect(() => scales(0, { dtype: 'U8', bytes })).toThrow('model.safetensors: tensor \'w.scales\': scale byte 255 (NaN in E8M0) at expert 1, row 5, block 1');
    expect(() => mxfp4Sinks(tiny, m, [2, 8, 96], where)).toThrow(
      'webmoe: MXFP4 weights [2,8,96] go into an mxfp4 matrix of 2 experts × 8 rows × 96 inputs, got mxfp4 2 × 8 × 64',
    );
    const f32 = createExpertMatrix(tiny, { experts: 2, parts: 2, outputs: 4, inner: 64 }, 'f32', 'f32');
    expect(() => mxfp4Sinks(tiny, f32, [2, 8, 64], where)).toThrow(/got f32 2 × 8 × 64/);
    expect(() => mxfp4Sinks(tiny, m, [2, 8, 64], where, (r) => r >> 1)).toThrow(
      'webmoe: MXFP4 rowOf must map the 8 rows of an expert onto themselves, one to one',
    );
    destroyExpertMatrix(m);
    destroyExpertMatrix(f32);
  });
});
