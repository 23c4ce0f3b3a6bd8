import type { Dispatch, Workspace } from '../gpu/workspace.js';
import type { ExpertMatrix } from '../weights/matrix.js';
import { defineKernel } from './kernel.js';

export const EMBED = defineKernel('embed', {
  files: ['embed'],
  uniforms: { n0: 'u32', n1: 'u32', H: 'u32', scale: 'f32' },
  bindings: { ids: 'read', table: 'read', x: 'read_write' },
  overrides: ['WEIGHT_F16'],
});

/** x [T,H] = table[ids] · scale; `table` is a one-expert matrix [V, H], one dispatch per binding. */
export function embedKernel(ws: Workspace, table: ExpertMatrix, b: { ids: GPUBuffer; x: GPUBuffer }, tokens: number, scale: number): Dispatch[] {
  return table.chunks.map((c) => EMBED.launch(ws, {
    uniforms: { n0: c.n0, n1: c.n1, H: table.inner, scale },
    buffers: { ids: b.ids, table: c.buffer, x: b.x },
    grid: [Math.ceil(table.inner / 64), tokens],
    overrides: { WEIGHT_F16: table.dtype === 'f16' ? 1 : 0 },
  }));
}
