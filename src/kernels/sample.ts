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
  },
  bindings: { logits: 'read', bias: 'read', history: 'read_write', w: 'read_write', draw: 'read', out: 'read_write' },
});

/** The settings of one sampler, in the form the kernel takes (temperature 0: greedy; topK 0: all). */
export interface SampleSettings {
  vocab: number;
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
  frequencyPenalty: number;
  presencePenalty: number;
  /** the `bias` buffer holds a bias per token */
  bias: boolean;
  /** `history` holds the sequence's tokens and the generated counts, and the kernel adds its pick */
  penalties: boolean;
}

export type SampleBuffers = Record<keyof typeof SAMPLE.spec.bindings, GPUBuffer>;

/** The next token from `logits` [vocab] into `out` [id, status] (shaders/sample.wgsl); one workgroup. */
export function sampleKernel(ws: Workspace, buffers: SampleBuffers, s: SampleSettings): Dispatch {
  return SAMPLE.launch(ws, {
    uniforms: {
      vocab: s.vocab,
      temperature: s.temperature,
      topK: s.topK,
      topP: s.topP,
      repetition: s.repetitionPenalty,
      frequency: s.frequencyPenalty,
      presence: s.presencePenalty,
      flags: (s.bias ? 1 : 0) | (s.penalties ? 2 : 0),
    },
    buffers,
    grid: [1],
  });
}
