import type { Dispatch, Workspace } from '../gpu/workspace.js';
import { defineKernel } from './kernel.js';

export interface RMSNormBuffers {
  /** [T,H] the residual stream; with `add`, updated in place to h + scale · add */
  h: GPUBuffer;
  add?: GPUBuffer;
  /** [H] */
  weight: GPUBuffer;
  /** [T,H] */
  out: GPUBuffer;
}

export const RMSNORM = defineKernel('rmsnorm', {
  files: ['rmsnorm'],
  uniforms: { H: 'u32', eps: 'f32', scale: 'f32' },
  bindings: { h: 'read_write', y: 'read', weight: 'read', out: 'read_write' },
  overrides: ['ADD'],
});

/** out = RMSNorm(h (+ scale · add)) · weight, row by row. */
export function rmsNormKernel(ws: Workspace, b: RMSNormBuffers, tokens: number, hidden: number, eps: number, scale = 1): Dispatch {
  return RMSNORM.launch(ws, {
    uniforms: { H: hidden, eps, scale },
    buffers: { h: b.h, y: b.add ?? b.weight, weight: b.weight, out: b.out },
    grid: [tokens],
    overrides: { ADD: b.add ? 1 : 0 },
  });
}
