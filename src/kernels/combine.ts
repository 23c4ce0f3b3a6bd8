import type { Dispatch, Workspace } from '../gpu/workspace.js';
import { defineKernel } from './kernel.js';

const WG = 64;

/**
 * A block's output left as rows to sum (slot_rows.wgsl): y[t] = Σ_j ys[t·k + j] (+ shared[t]). ys
 * [T·k, H]; ids [T·k] (NONE: an empty slot, its row never written; absent: every slot counts);
 * shared [T, H].
 */
export interface SlotRows {
  ys: GPUBuffer;
  topK: number;
  ids?: GPUBuffer;
  shared?: GPUBuffer;
}

/** The bindings and overrides of slot_rows.wgsl for `r`: a binding never read holds ys. */
export const slotRowsLaunch = (r: SlotRows) => ({
  buffers: { ys: r.ys, ids: r.ids ?? r.ys, sharedY: r.shared ?? r.ys },
  overrides: { ROUTED: r.ids ? undefined : 0, HAS_SHARED: r.shared ? 1 : undefined },
});

export const COMBINE = defineKernel('combine', {
  files: ['slot_rows', 'combine'],
  uniforms: { hidden: 'u32', topK: 'u32' },
  bindings: { ys: 'read', ids: 'read', sharedY: 'read', y: 'read_write' },
  overrides: ['HAS_SHARED', 'ROUTED'],
});

/** y [T,H] = the sum of the rows `r` of each token. */
export function combineKernel(ws: Workspace, r: SlotRows, y: GPUBuffer, tokens: number, hidden: number): Dispatch {
  const s = slotRowsLaunch(r);
  return COMBINE.launch(ws, {
    uniforms: { hidden, topK: r.topK },
    buffers: { ...s.buffers, y },
    grid: [Math.ceil(hidden / WG), tokens],
    overrides: s.overrides,
  });
}
