import code from '../../shaders/embed.wgsl?raw';
import { computePipeline } from '../gpu/pipelines.js';
import { type Dispatch, f32Bits, type Workspace } from '../gpu/workspace.js';
import type { ExpertMatrix } from '../weights/matrix.js';

/** x [T,H] = table[ids] · scale; `table` is a one-expert matrix [V, H], one dispatch per binding. */
export function embedKernel(ws: Workspace, table: ExpertMatrix, b: { ids: GPUBuffer; x: GPUBuffer }, tokens: number, scale: number): Dispatch[] {
  const pipeline = computePipeline(ws.device, 'embed', code, { WEIGHT_F16: table.dtype === 'f16' ? 1 : 0 });
  return table.chunks.map((c) => ws.dispatch(
    pipeline,
    [ws.uniform([c.n0, c.n1, table.inner, f32Bits(scale)], 'embed params'), b.ids, c.buffer, b.x],
    [Math.ceil(table.inner / 64), tokens],
  ));
}
