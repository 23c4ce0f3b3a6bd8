import type { Dispatch, Workspace } from '../gpu/workspace.js';
import { defineKernel } from './kernel.js';

export interface AttentionDims {
  /** query heads, key/value heads, head size */
  heads: number;
  kvHeads: number;
  headDim: number;
  /** positions a KV slot's region of the cache holds: the context, or a sliding window's ring */
  maxSeq: number;
}

/** q/k RMSNorm: none, per head (Qwen3-MoE), or over the whole q/k projection (OLMoE). */
export type QKNorm = 'none' | 'head' | 'full';

/** How the prep kernel prepares q, k and v: the q/k norm and its epsilon, the clip (absent: none). */
export type Prep = { norm: QKNorm; eps: number; clip?: number };
/** How the attention kernel attends: the softmax scale, a sliding window, sinks. */
export type Attend = { scale: number; window?: number; sinks?: boolean };

export interface KVCache {
  /** [slots, Hkv, maxSeq, D] each: a region per sequence; position j in row j mod maxSeq */
  k: GPUBuffer;
  v: GPUBuffer;
}

/** Bindings 1–5 of the kernels that prepare q, k and v (qkv_prep.wgsl). */
const PREP_BINDINGS = { at: 'read', qkv: 'read', bias: 'read', norms: 'read', rope: 'read' } as const;

export const ATTENTION_PREP = defineKernel('attention prep', {
  files: ['qkv_prep', 'attention_prep'],
  uniforms: { Hq: 'u32', Hkv: 'u32', D: 'u32', maxSeq: 'u32', eps: 'f32' },
  bindings: {
    ...PREP_BINDINGS,
    q: 'read_write',
    kCache: 'read_write',
    vCache: 'read_write',
  },
  overrides: ['NORM', 'CLIP'],
});

export const ATTENTION = defineKernel('attention', {
  files: ['attention_core', 'attention'],
  uniforms: { Hq: 'u32', Hkv: 'u32', D: 'u32', maxSeq: 'u32', scale: 'f32' },
  bindings: { at: 'read', q: 'read', kCache: 'read', vCache: 'read', sinks: 'read', out: 'read_write' },
  overrides: ['WINDOW', 'SINKS'],
});

export const ATTENTION_DECODE = defineKernel('attention decode', {
  files: ['qkv_prep', 'attention_core', 'attention_decode'],
  uniforms: { Hq: 'u32', Hkv: 'u32', D: 'u32', maxSeq: 'u32', eps: 'f32', scale: 'f32' },
  bindings: {
    ...PREP_BINDINGS,
    kCache: 'read_write',
    vCache: 'read_write',
    sinks: 'read',
    out: 'read_write',
  },
  overrides: ['NORM', 'CLIP', 'WINDOW', 'SINKS'],
});

const dims = (d: AttentionDims) => ({ Hq: d.heads, Hkv: d.kvHeads, D: d.headDim, maxSeq: d.maxSeq });
const prepOverrides = (d: Prep) => ({ NORM: ['none', 'head', 'full'].indexOf(d.norm), CLIP: d.clip });
const attendOverrides = (d: Attend) => ({ WINDOW: d.window, SINKS: d.sinks ? 1 : undefined });

/**
 * qkv [T, (Hq+2Hkv)·D] → q [T, Hq·D] and the cache: token t at position at[t].x in slot at[t].y (`at`:
 * [T] pairs of u32); `clip` clamps q, k and v to ±clip after the projection and norm (absent: no clamp).
 */
export function attentionPrepKernel(
  ws: Workspace,
  d: AttentionDims & Prep,
  b: { at: GPUBuffer; qkv: GPUBuffer; bias: GPUBuffer; norms: GPUBuffer; rope: GPUBuffer; q: GPUBuffer; cache: KVCache },
  tokens: number,
): Dispatch {
  return ATTENTION_PREP.launch(ws, {
    uniforms: { ...dims(d), eps: d.eps },
    buffers: { at: b.at, qkv: b.qkv, bias: b.bias, norms: b.norms, rope: b.rope, q: b.q, kCache: b.cache.k, vCache: b.cache.v },
    grid: [d.heads + 2 * d.kvHeads, tokens],
    overrides: prepOverrides(d),
  });
}

/**
 * out [T, Hq·D] = causal softmax(scale · q kᵀ) v over token t's slot at[t].y, positions 0 … at[t].x,
 * or with `window` W over at[t].x − W < j ≤ at[t].x (each region then a ring of maxSeq ≥ W positions).
 * `sinks` [Hq]: a logit per query head in the softmax denominator (absent: none; any buffer fills the
 * binding).
 */
export function attentionKernel(
  ws: Workspace,
  d: AttentionDims & Attend,
  b: { at: GPUBuffer; q: GPUBuffer; cache: KVCache; sinks: GPUBuffer; out: GPUBuffer },
  tokens: number,
): Dispatch {
  return ATTENTION.launch(ws, {
    uniforms: { ...dims(d), scale: d.scale },
    buffers: { at: b.at, q: b.q, kCache: b.cache.k, vCache: b.cache.v, sinks: b.sinks, out: b.out },
    grid: [d.heads, tokens],
    overrides: attendOverrides(d),
  });
}

/**
 * Tokens each of a different slot (a decode step of one or several sequences) in one launch:
 * attentionPrepKernel then attentionKernel, value for value (each token's key and value go into the
 * cache as there). Two tokens of one slot would race: use prep + attention for them.
 */
export function attentionDecodeKernel(
  ws: Workspace,
  d: AttentionDims & Prep & Attend,
  b: { at: GPUBuffer; qkv: GPUBuffer; bias: GPUBuffer; norms: GPUBuffer; rope: GPUBuffer; cache: KVCache; sinks: GPUBuffer; out: GPUBuffer },
  tokens: number,
): Dispatch {
  return ATTENTION_DECODE.launch(ws, {
    uniforms: { ...dims(d), eps: d.eps, scale: d.scale },
    buffers: { at: b.at, qkv: b.qkv, bias: b.bias, norms: b.norms, rope: b.rope, kCache: b.cache.k, vCache: b.cache.v, sinks: b.sinks, out: b.out },
    grid: [d.heads, tokens],
    overrides: { ...prepOverrides(d), ...attendOverrides(d) },
  });
}
