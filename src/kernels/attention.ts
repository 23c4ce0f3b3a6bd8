import type { Dispatch, Workspace } from '../gpu/workspace.js';
import { defineKernel } from './kernel.js';

export interface AttentionDims {
  /** query heads, key/value heads, head size */
  heads: number;
  kvHeads: number;
  headDim: number;
  /** positions the KV cache holds: the context, or a sliding window's ring */
  maxSeq: number;
}

/** q/k RMSNorm: none, per head (Qwen3-MoE), or over the whole q/k projection (OLMoE). */
export type QKNorm = 'none' | 'head' | 'full';

export interface KVCache {
  /** [Hkv, maxSeq, D] each; position j in slot j mod maxSeq */
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
  overrides: ['NORM', 'CLIP'],
});

export const ATTENTION = defineKernel('attention', {
  files: ['attention'],
  uniforms: { Hq: 'u32', Hkv: 'u32', D: 'u32', maxSeq: 'u32', scale: 'f32' },
  bindings: { pos0: 'uniform', q: 'read', kCache: 'read', vCache: 'read', sinks: 'read', out: 'read_write' },
  overrides: ['WINDOW', 'SINKS'],
});

const dims = (d: AttentionDims) => ({ Hq: d.heads, Hkv: d.kvHeads, D: d.headDim, maxSeq: d.maxSeq });

/**
 * qkv [T, (Hq+2Hkv)·D] → q [T, Hq·D] and the cache at positions pos0 + t (pos0: a u32 uniform); `clip`
 * clamps q, k and v to ±clip after the projection and norm (absent: no clamp).
 */
export function attentionPrepKernel(
  ws: Workspace,
  d: AttentionDims & { norm: QKNorm; eps: number; clip?: number },
  b: { pos0: GPUBuffer; qkv: GPUBuffer; bias: GPUBuffer; norms: GPUBuffer; rope: GPUBuffer; q: GPUBuffer; cache: KVCache },
  tokens: number,
): Dispatch {
  return ATTENTION_PREP.launch(ws, {
    uniforms: { ...dims(d), eps: d.eps },
    buffers: { pos0: b.pos0, qkv: b.qkv, bias: b.bias, norms: b.norms, rope: b.rope, q: b.q, kCache: b.cache.k, vCache: b.cache.v },
    grid: [d.heads + 2 * d.kvHeads, tokens],
    overrides: { NORM: ['none', 'head', 'full'].indexOf(d.norm), CLIP: d.clip },
  });
}

/**
 * out [T, Hq·D] = causal softmax(scale · q kᵀ) v over cache positions 0 … pos0 + t, or with `window` W
 * over pos0 + t − W < j ≤ pos0 + t (the cache then a ring of maxSeq ≥ W positions). `sinks` [Hq]: a
 * logit per query head in the softmax denominator (absent: none; any buffer fills the binding).
 */
export function attentionKernel(
  ws: Workspace,
  d: AttentionDims & { scale: number; window?: number; sinks?: boolean },
  b: { pos0: GPUBuffer; q: GPUBuffer; cache: KVCache; sinks: GPUBuffer; out: GPUBuffer },
  tokens: number,
): Dispatch {
  return ATTENTION.launch(ws, {
    uniforms: { ...dims(d), scale: d.scale },
    buffers: { pos0: b.pos0, q: b.q, kCache: b.cache.k, vCache: b.cache.v, sinks: b.sinks, out: b.out },
    grid: [d.heads, tokens],
    overrides: { WINDOW: d.window, SINKS: d.sinks ? 1 : undefined },
  });
}
