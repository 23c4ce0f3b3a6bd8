import type { Dispatch, Workspace } from '../gpu/workspace.js';
import { defineKernel } from './kernel.js';

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

export const ALIGN = defineKernel('align', {
  files: ['align'],
  uniforms: { slots: 'u32', experts: 'u32', maxBlocks: 'u32' },
  bindings: { ids: 'read', counts: 'read', sorted: 'read_write', blockExpert: 'read_write' },
  overrides: ['BM', 'E_MAX'],
});

export type AlignBuffers = Parameters<typeof ALIGN.launch>[1]['buffers'];

export function alignKernel(ws: Workspace, b: AlignBuffers, slots: number, experts: number, rows: BlockRows): Dispatch {
  return ALIGN.launch(ws, {
    uniforms: { slots, experts, maxBlocks: maxBlocks(slots, experts, rows) },
    buffers: b,
    grid: [1],
    overrides: { BM: rows, E_MAX: experts },
  });
}
