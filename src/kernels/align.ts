import code from '../../shaders/align.wgsl?raw';
import { computePipeline } from '../gpu/pipelines.js';
import type { Dispatch, Workspace } from '../gpu/workspace.js';

/** Tile heights the grouped GEMM is built for; align.wgsl pads each expert's rows to one of them. */
export type BlockRows = 8 | 16 | 32;

/** The tile height for a batch: about the rows one expert gets, so padding stays small. */
export function blockRowsFor(slots: number, experts: number): BlockRows {
  const perExpert = slots / experts;
  return perExpert <= 8 ? 8 : perExpert <= 16 ? 16 : 32;
}

/** Blocks enough for any routing of `slots` slots over `experts` experts. */
export function maxBlocks(slots: number, experts: number, rows: BlockRows): number {
  return Math.floor(slots / rows) + Math.min(experts, slots);
}

export interface AlignBuffers {
  ids: GPUBuffer;          // [S] u32
  counts: GPUBuffer;       // [E] u32
  sorted: GPUBuffer;       // out [maxBlocks·rows] u32
  blockExpert: GPUBuffer;  // out [maxBlocks] u32
}

export function alignKernel(ws: Workspace, b: AlignBuffers, slots: number, experts: number, rows: BlockRows): Dispatch {
  const pipeline = computePipeline(ws.device, 'align', code, { BM: rows, E_MAX: experts });
  const params = ws.uniform([slots, experts, maxBlocks(slots, experts, rows)], 'align params');
  return ws.dispatch(pipeline, [params, b.ids, b.counts, b.sorted, b.blockExpert], [1]);
}
