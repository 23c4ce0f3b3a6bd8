import code from '../../shaders/rmsnorm.wgsl?raw';
import { computePipeline } from '../gpu/pipelines.js';
import { type Dispatch, f32Bits, type Workspace } from '../gpu/workspace.js';

export interface RMSNormBuffers {
  /** [T,H] the residual stream; with `add`, updated in place to h + scale · add */
  h: GPUBuffer;
  add?: GPUBuffer;
  /** [H] */
  weight: GPUBuffer;
  /** [T,H] */
  out: GPUBuffer;
}

/** out = RMSNorm(h (+ scale · add)) · weight, row by row. */
export function rmsNormKernel(ws: Workspace, b: RMSNormBuffers, tokens: number, hidden: number, eps: number, scale = 1): Dispatch {
  const pipeline = computePipeline(ws.device, 'rmsnorm', code, { ADD: b.add ? 1 : 0 });
  const params = ws.uniform([hidden, f32Bits(eps), f32Bits(scale)], 'rmsnorm params');
  return ws.dispatch(pipeline, [params, b.h, b.add ?? b.weight, b.weight, b.out], [tokens]);
}
