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
  /** top-p routing: keep the fewest of the k choices (≥ minK) whose probability mass reaches topP (≥ 1: all k) */
  topP: number;
  minK: number;
  /** a call of T > 1 tokens gives each expert at most ⌈capacityFactor·T·k/E⌉ pairs (0: unbounded; moe/capacity.ts) */
  capacityFactor: number;
  /** overflow goes to the token's next choice with room (true) or is dropped (false) */
  capacityNext: boolean;
}

export interface RouterDims extends Routing {
  tokens: number;
  hidden: number;
  /** candidates per token written to `cand` for the capacity kernel (0: none) */
  candRows: number;
  /** add the call's routing to `totals` (off where the capacity kernel, which has the final counts, does) */
  tally: boolean;
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
    topP: 'f32',
    minK: 'u32',
    candRows: 'u32',
    tally: 'u32',
  },
  bindings: {
    x: 'read',
    wr: 'read',
    table: 'read',
    ids: 'read_write',
    weights: 'read_write',
    counts: 'read_write',
    cand: 'read_write',
    totals: 'read_write',
  },
  overrides: ['E_MAX'],
});

export type RouterBuffers = Parameters<typeof ROUTER.launch>[1]['buffers'];

export function routerKernel(ws: Workspace, b: RouterBuffers, d: RouterDims): Dispatch {
  return ROUTER.launch(ws, {
    uniforms: { ...d, normTopK: d.normTopK ? 1 : 0, groupMax: d.groupMax ? 1 : 0, tally: d.tally ? 1 : 0 },
    buffers: b,
    grid: [d.tokens],
    overrides: { E_MAX: d.experts },
  });
}
