import type { Dispatch, Workspace } from '../gpu/workspace.js';
import { defineKernel } from './kernel.js';

export interface AttentionDims {
  /** query heads, key/value heads, head size */
  heads: number;
  kvHeads: number;
  headDim: number;
  /** positions the KV cache holds */
  maxSeq: number;
}

/** q/k RMSNorm: none, per head (Qwen3-MoE), or over the whole q/k projection (OLMoE). */
export type QKNorm = 'none' | 'head' | 'full';

export interface KVCache {
  /** [Hkv, maxSeq, D] each */
  k: GPUBuffer;
  v: GPUBuffer;
}

export const ATTENTION_PREP = defineKernel('attention prep', {
  files: ['attention_prep'],
  uniforms: { Hq: 'u32', Hkv: 'u32', D: 'u32', maxSeq: 'u32', eps: 'f32' },
  bindings: {
    pos0: 'uniform',
    qkv: 'read',
    bias: 'read',
    norms: 'read',
    rope: 'read',
    q: 'read_write',
    kCache: 'read_write',
    vCache: 'read_write',
  },
  overrides: ['NORM'],
});

export const ATTENTION = defineKernel('attention', {
  files: ['attention'],
  uniforms: { Hq: 'u32', Hkv: 'u32', D: 'u32', maxSeq: 'u32', scale: 'f32' },
  bindings: { pos0: 'uniform', q: 'read', kCache: 'read', vCache: 'read', out: 'read_write' },
});

const dims = (d: AttentionDims) => ({ Hq: d.heads, Hkv: d.kvHeads, D: d.headDim, maxSeq: d.maxSeq });

/** qkv [T, (Hq+2Hkv)·D] → q [T, Hq·D] and the cache at positions pos0 + t (pos0: a u32 uniform). */
export function attentionPrepKernel(
  ws: Workspace,
  d: AttentionDims & { norm: QKNorm; eps: number },
  b: { pos0: GPUBuffer; qkv: GPUBuffer; bias: GPUBuffer; norms: GPUBuffer; rope: GPUBuffer; q: GPUBuffer; cache: KVCache },
  tokens: number,
): Dispatch {
  return ATTENTION_PREP.launch(ws, {
    uniforms: { ...dims(d), eps: d.eps },
    buffers: { pos0: b.pos0, qkv: b.qkv, bias: b.bias, norms: b.norms, rope: b.rope, q: b.q, kCache: b.cache.k, vCache: b.cache.v },
    grid: [d.heads + 2 * d.kvHeads, tokens],
    overrides: { NORM: ['none', 'head', 'full'].indexOf(d.norm) },
  });
}

/** out [T, Hq·D] = causal softmax(scale · q kᵀ) v over cache positions 0 … pos0 + t. */
export function attentionKernel(
  ws: Workspace,
  d: AttentionDims & { scale: number },
  b: { pos0: GPUBuffer; q: GPUBuffer; cache: KVCache; out: GPUBuffer },
  tokens: number,
): Dispatch {
  return ATTENTION.launch(ws, {
    uniforms: { ...dims(d), scale: d.scale },
    buffers: { pos0: b.pos0, q: b.q, kCache: b.cache.k, vCache: b.cache.v, out: b.out },
    grid: [d.heads, tokens],
  });
}
