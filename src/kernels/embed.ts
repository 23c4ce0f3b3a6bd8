import type { Dispatch, Workspace } from '../gpu/workspace.js';
import { FORMAT_PRELUDES, STORAGES } from '../weights/format.js';
import type { ExpertMatrix } from '../weights/matrix.js';
import { defineKernel } from './kernel.js';

export const EMBED = defineKernel('embed', {
  files: ['embed'],
  uniforms: { n0: 'u32', n1: 'u32', K: 'u32', scale: 'f32' },
  bindings: { ids: 'read', w: 'read', x: 'read_write' },
  preludes: FORMAT_PRELUDES,
});

/** x [T,H] = table[ids] · scale; `table` is a one-expert matrix [V, H], one dispatch per binding. */
export function embedKernel(ws: Workspace, table: ExpertMatrix, b: { ids: GPUBuffer; x: GPUBuffer }, tokens: number, scale: number): Dispatch[] {
  return table.chunks.map((c) =>
    EMBED.launch(ws, {
      uniforms: { n0: c.n0, n1: c.n1, K: table.inner, scale },
      buffers: { ids: b.ids, w: c.buffer, x: b.x },
      grid: [Math.ceil(table.inner / 64), tokens],
      preludes: STORAGES[table.dtype].prelude,
    })
  );
}
