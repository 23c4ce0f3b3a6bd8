import type { Dispatch, Workspace } from '../gpu/workspace.js';
import { defineKernel } from './kernel.js';

const WG = 64;

export const BIAS = defineKernel('bias', {
  files: ['bias'],
  uniforms: { N: 'u32' },
  bindings: { bias: 'read', y: 'read_write' },
});

/** y [rows, N] += bias [N], in place. */
export function biasKernel(ws: Workspace, b: { bias: GPUBuffer; y: GPUBuffer }, rows: number, N: number): Dispatch {
  return BIAS.launch(ws, { uniforms: { N }, buffers: b, grid: [Math.ceil(N / WG), rows] });
}
