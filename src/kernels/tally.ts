import type { Dispatch, Workspace } from '../gpu/workspace.js';
import { defineKernel } from './kernel.js';

export const TALLY = defineKernel('tally', {
  files: ['tally'],
  uniforms: { n: 'u32', tokens: 'u32', experts: 'u32' },
  bindings: { counts: 'read', totals: 'read_write' },
});

/** totals [n+2] += (counts [n], tokens, experts among the first `experts` counts that are not 0). */
export function tallyKernel(ws: Workspace, b: { counts: GPUBuffer; totals: GPUBuffer }, n: number, tokens: number, experts: number): Dispatch {
  return TALLY.launch(ws, { uniforms: { n, tokens, experts }, buffers: b, grid: [1] });
}
