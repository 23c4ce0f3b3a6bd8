import code from '../../shaders/router.wgsl?raw';
import { computePipeline } from '../gpu/pipelines.js';
import { type Dispatch, type Workspace, f32Bits } from '../gpu/workspace.js';

/** 0: softmax over all experts, 1: sigmoid, 2: top-k on logits then softmax over the k. */
export type ScoringMode = 0 | 1 | 2;

/** Routing settings in the form the router kernel takes. */
export interface Routing {
  experts: number;
  topK: number;
  scoring: ScoringMode;
  normTopK: boolean;
  routedScaling: number;
  nGroup: number;
  topkGroup: number;
}

export interface RouterDims extends Routing {
  tokens: number;
  hidden: number;
}

export interface RouterBuffers {
  x: GPUBuffer;        // [T,H] f32
  wr: GPUBuffer;       // [E,H] f32
  bias: GPUBuffer;     // [E] f32
  selBias: GPUBuffer;  // [E] f32
  mask: GPUBuffer;     // [E] u32
  ids: GPUBuffer;      // out [T,k] u32
  weights: GPUBuffer;  // out [T,k] f32
  counts: GPUBuffer;   // [E] u32, incremented
}

export function routerKernel(ws: Workspace, b: RouterBuffers, d: RouterDims): Dispatch {
  const pipeline = computePipeline(ws.device, 'router', code, { E_MAX: d.experts });
  const params = ws.uniform([
    d.tokens, d.hidden, d.experts, d.topK, d.scoring, d.normTopK ? 1 : 0, d.nGroup, d.topkGroup,
    f32Bits(d.routedScaling),
  ], 'router params');
  return ws.dispatch(pipeline, [params, b.x, b.wr, b.bias, b.selBias, b.mask, b.ids, b.weights, b.counts], [d.tokens]);
}
