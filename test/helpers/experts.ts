// Expert GEMM/GEMV runs on routings made on the CPU, checked against the float64 reference: shared by
// the kernel tests and the tile-candidate tests.
import { expect } from 'vitest';
import { alignKernel, type BlockRows, maxBlocks } from '../../src/kernels/align.js';
import { type Activation, type Epilogue, groupedGemm, indexedGemv } from '../../src/kernels/expertMatmul.js';
import type { GemmTiles, GemvTiles } from '../../src/kernels/tiles.js';
import { readBuffers, Workspace } from '../../src/gpu/workspace.js';
import { toF16 } from '../../src/gpu/f16.js';
import { type ExpertMatrix, uploadExpertMatrix } from '../../src/weights/matrix.js';
import { referenceDown, referenceGateUp, referenceQuantize, relativeError } from '../../src/moe/reference.js';
import { poisoned, readF32, runKernels } from './gpu.js';
import { Rng } from '../ref/rng.js';
import { isQuant, type WeightStorage } from '../../src/weights/format.js';
import { MXFP4 } from '../../src/weights/formats/mxfp4.js';

export interface Case {
  T: number;
  E: number;
  k: number;
  H: number;
  I: number;
  dtype: WeightStorage;
  rows: BlockRows;
  ids: Uint32Array;
  /** The experts the matrices hold, in slot order (the slot table maps the rest to NONE). Default: all, in order. */
  held?: number[];
  /** Random gate/up and down biases (by expert id) in the epilogues. */
  biased?: boolean;
  activation?: Activation;
  /** Every slot on one expert: the GEMV computes several slots a workgroup (moe_gemv.wgsl SLOTS). */
  oneExpert?: boolean;
}

/** Rows of experts `held`, in that order, of a stacked host matrix of `per` values an expert. */
const gather = (w: Float32Array, held: number[], per: number) => {
  const out = new Float32Array(held.length * per);
  held.forEach((e, i) => out.set(w.subarray(e * per, (e + 1) * per), i * per));
  return out;
};

/**
 * Both expert matrices of a random block on `dev`, by the GEMV (one row per slot) or the aligned GEMM,
 * with `tiles` or the device's choice: relative errors of h and of the weighted outputs against float64.
 */
export async function runExperts(dev: GPUDevice, c: Case, gemv: boolean, seed: number, tiles?: GemvTiles | GemmTiles) {
  const rng = new Rng(seed);
  const { T, E, k, H, I, dtype, rows, ids } = c;
  const slots = T * k;
  const x = rng.array(T * H);
  const gateUpHost = rng.array(E * 2 * I * H, 1 / Math.sqrt(H));
  const downHost = rng.array(E * H * I, 1 / Math.sqrt(I));
  const routeW = Float32Array.from({ length: slots }, () => 0.1 + rng.next());
  const gateUpBias = c.biased ? rng.array(E * 2 * I) : undefined;
  const downBias = c.biased ? rng.array(E * H) : undefined;
  const counts = new Uint32Array(E);
  for (const e of ids) counts[e]++;

  const ws = new Workspace(dev);
  const held = c.held ?? [...Array(E).keys()];
  const gateUp: ExpertMatrix = uploadExpertMatrix(dev, gather(gateUpHost, held, 2 * I * H), { experts: held.length, parts: 2, outputs: I, inner: H }, dtype,
    'gateUp');
  const down: ExpertMatrix = uploadExpertMatrix(dev, gather(downHost, held, H * I), { experts: held.length, parts: 1, outputs: H, inner: I }, dtype, 'down');
  const slotOf = ws.upload(Uint32Array.from({ length: E }, (_, e) => (held.includes(e) ? held.indexOf(e) : 0xffffffff)), 'slot table');
  const blocks = maxBlocks(slots, E, rows);
  const hRows = gemv ? slots : blocks * rows;
  const h = poisoned(dev, hRows * I * 4, 'h');
  const ys = poisoned(dev, slots * H * 4, 'ys');
  const sorted = ws.buffer(blocks * rows * 4, 'sorted');
  const io = { a: ws.upload(x, 'x'), slotOf, routeW: ws.upload(routeW, 'w'), ids: ws.upload(ids, 'ids'), sorted, blockExpert: ws.buffer(blocks * 4, 'be') };
  const first: Epilogue = { activation: c.activation, bias: gateUpBias && ws.upload(gateUpBias, 'gate/up bias') };
  const second: Epilogue = { bias: downBias && ws.upload(downBias, 'down bias') };
  await runKernels(dev, () =>
    gemv
      ? [...indexedGemv(ws, gateUp, { ...io, out: h }, k, slots, tiles as GemvTiles, first, c.oneExpert),
        ...indexedGemv(ws, down, { ...io, a: h, out: ys }, k, slots, tiles as GemvTiles, second, c.oneExpert)]
      : [
        alignKernel(ws, { ids: io.ids, counts: ws.upload(counts, 'counts'), sorted, blockExpert: io.blockExpert }, slots, E, rows),
        ...groupedGemm(ws, gateUp, { ...io, out: h }, k, blocks, rows, tiles as GemmTiles, first),
        ...groupedGemm(ws, down, { ...io, a: h, out: ys }, k, blocks, rows, tiles as GemmTiles, second),
      ]);
  const hGot = await readF32(dev, h, hRows * I);
  const ysGot = await readF32(dev, ys, slots * H);
  const sortedGot = gemv ? Uint32Array.from({ length: slots }, (_, s) => s) : new Uint32Array((await readBuffers(dev, [sorted]))[0]);
  // Reference with the stored (f16-rounded, or quantized → dequantized) weights, to check the kernel's arithmetic.
  const stored = (w: Float32Array, inner: number) =>
    dtype === 'f16' ? toF16(w) : isQuant(dtype) ? referenceQuantize(w, inner, dtype) : dtype === 'mxfp4' ? MXFP4.unpack(MXFP4.pack(w, inner), inner) : w;
  const gu = stored(gateUpHost, H);
  const dn = stored(downHost, I);
  const hRef: number[] = [];
  const hOut: number[] = [];
  const yRef: number[] = [];
  const gateUpRef = (s: number) =>
    referenceGateUp(x.subarray(Math.floor(s / k) * H, (Math.floor(s / k) + 1) * H), ids[s], gu, H, I, { bias: gateUpBias, activation: c.activation });
  for (let row = 0; row < sortedGot.length; row++) {
    const s = sortedGot[row];
    if (s === 0xffffffff) continue;
    hRef.push(...gateUpRef(s));
    hOut.push(...hGot.subarray(row * I, (row + 1) * I));
  }
  for (let s = 0; s < slots; s++) {
    const yr = referenceDown(gateUpRef(s), ids[s], dn, H, I, downBias);
    yRef.push(...yr.map((v) => v * routeW[s]));
  }
  expect(hOut.length).toBe(slots * I);
  ws.destroy();
  return { h: relativeError(hOut, hRef), ys: relativeError(ysGot, yRef), chunks: [gateUp.chunks.length, down.chunks.length] };
}

export function randomCase(rng: Rng, over: Partial<Case> = {}): Case {
  const T = over.T ?? rng.pick([1, 2, 7, 64]);
  const E = over.E ?? rng.pick([1, 4, 8, 32]);
  const k = over.k ?? Math.min(E, rng.pick([1, 2, 4, 8]));
  const c = { T, E, k, H: rng.int(5, 70), I: rng.int(5, 70), dtype: 'f32' as WeightStorage, rows: rng.pick([8, 16, 32] as const), ...over };
  return { ...c, ids: over.ids ?? Uint32Array.from({ length: T * k }, () => rng.int(0, E - 1)) };
}
