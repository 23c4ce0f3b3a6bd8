import type { Dispatch, Workspace } from '../gpu/workspace.js';
import { defineKernel } from './kernel.js';

export const TALLY = defineKernel('tally', {
  files: ['tally'],
  uniforms: { n: 'u32', tokens: 'u32' },
  bindings: { counts: 'read', totals: 'read_write' },
});

/** totals [n+1] += (counts [n], tokens). */
export function tallyKernel(ws: Workspace, b: { counts: GPUBuffer; totals: GPUBuffer }, n: number, tokens: number): Dispatch {
  return TALLY.launch(ws, { uniforms: { n, tokens }, buffers: b, grid: [Math.ceil(n / 64)] });
}
