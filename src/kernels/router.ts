import type { Dispatch, Workspace } from '../gpu/workspace.js';
import { defineKernel } from './kernel.js';

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
  /** a group ranks by its best score (true) or the sum of its two best (false) */
  groupMax: boolean;
}

export interface RouterDims extends Routing {
  tokens: number;
  hidden: number;
}

export const ROUTER = defineKernel('router', {
  files: ['router'],
  uniforms: {
    tokens: 'u32',
    hidden: 'u32',
    experts: 'u32',
    topK: 'u32',
    scoring: 'u32',
    normTopK: 'u32',
    nGroup: 'u32',
    topkGroup: 'u32',
    groupMax: 'u32',
    routedScaling: 'f32',
  },
  bindings: {
    x: 'read',
    wr: 'read',
    bias: 'read',
    selBias: 'read',
    mask: 'read',
    ids: 'read_write',
    weights: 'read_write',
    counts: 'read_write',
  },
  overrides: ['E_MAX'],
});

export type RouterBuffers = Parameters<typeof ROUTER.launch>[1]['buffers'];

export function routerKernel(ws: Workspace, b: RouterBuffers, d: RouterDims): Dispatch {
  return ROUTER.launch(ws, {
    uniforms: { ...d, normTopK: d.normTopK ? 1 : 0, groupMax: d.groupMax ? 1 : 0 },
    buffers: b,
    grid: [d.tokens],
    overrides: { E_MAX: d.experts },
  });
}
