import type { Dispatch, Workspace } from '../gpu/workspace.js';
import { defineKernel } from './kernel.js';

export const SAMPLE = defineKernel('sample', {
  files: ['sample'],
  uniforms: {
    vocab: 'u32',
    temperature: 'f32',
    topK: 'u32',
    topP: 'f32',
    repetition: 'f32',
    frequency: 'f32',
    presence: 'f32',
    flags: 'u32',
    row: 'u32',
  },
  bindings: { logits: 'read', bias: 'read', history: 'read_write', w: 'read_write', draw: 'read', cand: 'read_write', out: 'read_write' },
});

export type SampleBuffers = Record<keyof typeof SAMPLE.spec.bindings, GPUBuffer>;

/** Bits of the `flags` uniform: the `bias` buffer holds a bias per token; `history` holds the sequence and the counts generated. */
export const SAMPLE_BIAS = 1;
export const SAMPLE_PENALTIES = 2;

/**
 * The next token from row `row` of `logits` [rows, vocab] into `out` [id, status] (shaders/sample.wgsl): one workgroup.
 * Temperature 0: greedy; topK 0: all.
 */
export function sampleKernel(ws: Workspace, buffers: SampleBuffers, uniforms: Record<keyof typeof SAMPLE.spec.uniforms, number>): Dispatch {
  return SAMPLE.launch(ws, { uniforms, buffers, grid: [1] });
}
