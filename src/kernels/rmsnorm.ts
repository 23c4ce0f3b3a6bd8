import type { Dispatch, Workspace } from '../gpu/workspace.js';
import { type SlotRows, slotRowsLaunch } from './combine.js';
import { defineKernel } from './kernel.js';

export interface RMSNormBuffers {
  /** [T,H] the residual stream; with `add`, updated in place to h + scale · (the sum of each token's rows) */
  h: GPUBuffer;
  add?: SlotRows;
  /** [H] */
  weight: GPUBuffer;
  /** [T,H] */
  out: GPUBuffer;
}

export const RMSNORM = defineKernel('rmsnorm', {
  files: ['slot_rows', 'rmsnorm'],
  uniforms: { H: 'u32', eps: 'f32', scale: 'f32', topK: 'u32' },
  bindings: { h: 'read_write', ys: 'read', ids: 'read', sharedY: 'read', weight: 'read', out: 'read_write' },
  overrides: ['ADD', 'HAS_SHARED', 'ROUTED'],
});

/** out = RMSNorm(h (+ scale · Σ add's rows)) · weight, row by row. */
export function rmsNormKernel(ws: Workspace, b: RMSNormBuffers, tokens: number, hidden: number, eps: number, scale = 1): Dispatch {
  const s = slotRowsLaunch(b.add ?? { ys: b.weight, topK: 0 });
  return RMSNORM.launch(ws, {
    uniforms: { H: hidden, eps, scale, topK: b.add?.topK ?? 0 },
    buffers: { h: b.h, ...s.buffers, weight: b.weight, out: b.out },
    grid: [tokens],
    overrides: { ADD: b.add ? 1 : 0, ...s.overrides },
  });
}
