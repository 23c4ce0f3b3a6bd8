import common from '../../shaders/expert_common.wgsl?raw';
import halfF16 from '../../shaders/half_f16.wgsl?raw';
import halfF32 from '../../shaders/half_f32.wgsl?raw';
import inputsShared from '../../shaders/inputs_shared.wgsl?raw';
import inputsSubgroup from '../../shaders/inputs_subgroup.wgsl?raw';
import lanesShared from '../../shaders/lanes_shared.wgsl?raw';
import lanesSubgroup from '../../shaders/lanes_subgroup.wgsl?raw';
import gemm from '../../shaders/moe_gemm.wgsl?raw';
import gemv from '../../shaders/moe_gemv.wgsl?raw';
import placeLocal from '../../shaders/place_local.wgsl?raw';
import placeSubgroup from '../../shaders/place_subgroup.wgsl?raw';
import { computePipeline } from '../gpu/pipelines.js';
import type { Dispatch, Workspace } from '../gpu/workspace.js';
import type { ExpertChunk, ExpertMatrix, WeightDType } from '../weights/matrix.js';
import type { BlockRows } from './align.js';
import { gemmShuffleWidth, gemmTiles, type GemmTiles, gemvColumns, gemvTiles, type GemvTiles } from './tiles.js';


export interface ExpertMatmulBuffers {
  a: GPUBuffer;       // GEMM 1: x [T,K]; GEMM 2: h [rows,K]
  routeW: GPUBuffer;  // [T·k] routing weights (GEMM 2's epilogue)
  out: GPUBuffer;     // GEMM 1: h [rows, N]; GEMM 2: ys [T·k, N]
}

/** Grouped GEMM over expert-sorted rows in blocks of `rows`: one dispatch per weight binding (chunk). */
export function groupedGemm(
  ws: Workspace, m: ExpertMatrix, b: ExpertMatmulBuffers & { sorted: GPUBuffer; blockExpert: GPUBuffer },
  topK: number, blocks: number, rows: BlockRows, t: GemmTiles = gemmTiles(ws.device, m, rows),
): Dispatch[] {
  const code = [t.f16 ? halfF16 : halfF32, ...(t.shuffle ? [placeSubgroup, inputsSubgroup] : [placeLocal, inputsShared]), common, gemm];
  const pipeline = computePipeline(ws.device, `moe_gemm${t.f16 ? ' f16' : ''}${t.shuffle ? ' shuffle' : ''}`, code, {
    ...overrides(m), BM: rows, BK: t.bk, ...(t.shuffle ? { AW: gemmShuffleWidth(ws.device, rows, t) } : {}),
  });
  const columns = 1024 / rows;  // moe_gemm.wgsl BN
  return m.chunks.map((c) => ws.dispatch(
    pipeline, [params(ws, m, c, topK), b.a, c.buffer, b.sorted, b.blockExpert, b.routeW, b.out],
    [Math.ceil((c.n1 - c.n0) / columns), blocks],
  ));
}

/** Indexed GEMV for few tokens: reads each slot's expert from `ids` on the GPU. */
export function indexedGemv(
  ws: Workspace, m: ExpertMatrix, b: ExpertMatmulBuffers & { ids: GPUBuffer }, topK: number, slots: number,
  t: GemvTiles = gemvTiles(ws.device, m),
): Dispatch[] {
  const code = [...(t.shuffle ? [placeSubgroup, lanesSubgroup] : [placeLocal, lanesShared]), common, gemv];
  const pipeline = computePipeline(ws.device, t.shuffle ? 'moe_gemv shuffle' : 'moe_gemv', code, {
    ...overrides(m), LANES: t.lanes, ROWS: t.rows,
  });
  return m.chunks.map((c) => ws.dispatch(
    pipeline, [params(ws, m, c, topK), b.a, c.buffer, b.ids, b.routeW, b.out],
    [Math.ceil((c.n1 - c.n0) / gemvColumns(t)), slots],
  ));
}

/** expert_common.wgsl WEIGHT_BITS: the storage of the weights, dequantized in the kernels. */
const WEIGHT_BITS: Record<WeightDType, number> = { f32: 32, f16: 16, q8: 8, q4: 4 };

function overrides(m: ExpertMatrix): Record<string, number> {
  return { GATED: m.parts === 2 ? 1 : 0, WEIGHT_BITS: WEIGHT_BITS[m.dtype] };
}

function params(ws: Workspace, m: ExpertMatrix, c: ExpertChunk, topK: number): GPUBuffer {
  return ws.uniform([c.e0, c.e1, c.n0, c.n1, m.inner, m.outputs, topK], 'expert matmul params');
}
