import code from '../../shaders/copy.wgsl?raw';
import { computePipeline } from '../gpu/pipelines.js';
import type { Dispatch, Workspace } from '../gpu/workspace.js';

const WG = 256;
const MAX_GRID = 65535;

/** dst = src for `bytes` bytes (a multiple of 16). */
export function copyKernel(ws: Workspace, src: GPUBuffer, dst: GPUBuffer, bytes: number): Dispatch {
  const pipeline = computePipeline(ws.device, 'copy', code);
  const count = bytes / 16;
  const groups = Math.ceil(count / WG);
  const params = ws.uniform([count], 'copy params');
  return ws.dispatch(pipeline, [params, src, dst], [Math.min(groups, MAX_GRID), Math.ceil(groups / MAX_GRID)]);
}
