import type { Dispatch, Workspace } from '../gpu/workspace.js';
import { defineKernel } from './kernel.js';

export const CAPACITY = defineKernel('capacity', {
  files: ['capacity'],
  uniforms: {
    tokens: 'u32',
    topK: 'u32',
    candRows: 'u32',
    experts: 'u32',
    capacity: 'u32',
    next: 'u32',
    renorm: 'u32',
    routedScaling: 'f32',
  },
  bindings: { cand: 'read', ids: 'read_write', weights: 'read_write', counts: 'read_write', scratch: 'read_write', totals: 'read_write' },
  overrides: ['E_MAX'],
});

export type CapacityBuffers = Parameters<typeof CAPACITY.launch>[1]['buffers'];

export interface CapacityDims {
  tokens: number;
  topK: number;
  candRows: number;
  experts: number;
  /** pairs one expert takes */
  capacity: number;
  next: boolean;
  renorm: boolean;
  routedScaling: number;
}

/** Bytes of the kernel's scratch buffer. */
export const capacityScratchBytes = (tokens: number, topK: number): number => 3 * tokens * topK * 4;

/** Caps each expert's pairs of a routed call (capacity.wgsl); `counts` [E+1] ends with the pairs dropped, and `totals` [E+3] adds them up. */
export function capacityKernel(ws: Workspace, b: CapacityBuffers, d: CapacityDims): Dispatch {
  return CAPACITY.launch(ws, {
    uniforms: { ...d, next: d.next ? 1 : 0, renorm: d.renorm ? 1 : 0 },
    buffers: b,
    grid: [1],
    overrides: { E_MAX: d.experts },
  });
}
