import code from '../../shaders/align.wgsl?raw';
import { computePipeline } from '../gpu/pipelines';
import type { Dispatch, Workspace } from '../gpu/workspace';

/** Rows per block of the grouped GEMM; align.wgsl pads each expert's rows to it. */
export const BLOCK_ROWS = 32;

/** Blocks enough for any routing of `slots` slots over `experts` experts. */
export function maxBlocks(slots: number, experts: number): number {
  return Math.floor(slots / BLOCK_ROWS) + Math.min(experts, slots);
}

export interface AlignBuffers {
  ids: GPUBuffer;          // [S] u32
  counts: GPUBuffer;       // [E] u32
  sorted: GPUBuffer;       // out [maxBlocks·BLOCK_ROWS] u32
  blockExpert: GPUBuffer;  // out [maxBlocks] u32
}

export function alignKernel(ws: Workspace, b: AlignBuffers, slots: number, experts: number): Dispatch {
  const pipeline = computePipeline(ws.device, 'align', code, { BM: BLOCK_ROWS, E_MAX: experts });
  const params = ws.uniform([slots, experts, maxBlocks(slots, experts)], 'align params');
  return ws.dispatch(pipeline, [params, b.ids, b.counts, b.sorted, b.blockExpert], [1]);
}
