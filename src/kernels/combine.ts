import code from '../../shaders/combine.wgsl?raw';
import { computePipeline } from '../gpu/pipelines.js';
import type { Dispatch, Workspace } from '../gpu/workspace.js';

const WG = 64;

/** y [T,H] = Σ_j ys [T·k, H] (+ shared [T,H]). */
export function combineKernel(
  ws: Workspace, b: { ys: GPUBuffer; shared?: GPUBuffer; y: GPUBuffer }, tokens: number, hidden: number, topK: number,
): Dispatch {
  const pipeline = computePipeline(ws.device, 'combine', code, { HAS_SHARED: b.shared ? 1 : 0 });
  const params = ws.uniform([hidden, topK], 'combine params');
  // Without a shared expert its binding is never read: bind ys there to fill the slot.
  return ws.dispatch(pipeline, [params, b.ys, b.shared ?? b.ys, b.y], [Math.ceil(hidden / WG), tokens]);
}
