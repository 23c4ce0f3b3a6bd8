import code from '../../shaders/attention.wgsl?raw';
import prepCode from '../../shaders/attention_prep.wgsl?raw';
import { computePipeline } from '../gpu/pipelines.js';
import { type Dispatch, f32Bits, type Workspace } from '../gpu/workspace.js';

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

/** qkv [T, (Hq+2Hkv)·D] → q [T, Hq·D] and the cache at positions pos0 + t (pos0: a u32 uniform). */
export function attentionPrepKernel(
  ws: Workspace, d: AttentionDims & { norm: QKNorm; eps: number },
  b: { pos0: GPUBuffer; qkv: GPUBuffer; bias: GPUBuffer; norms: GPUBuffer; rope: GPUBuffer; q: GPUBuffer; cache: KVCache },
  tokens: number,
): Dispatch {
  const pipeline = computePipeline(ws.device, 'attention prep', prepCode, { NORM: ['none', 'head', 'full'].indexOf(d.norm) });
  const params = ws.uniform([d.heads, d.kvHeads, d.headDim, d.maxSeq, f32Bits(d.eps)], 'attention prep params');
  return ws.dispatch(
    pipeline, [params, b.pos0, b.qkv, b.bias, b.norms, b.rope, b.q, b.cache.k, b.cache.v],
    [d.heads + 2 * d.kvHeads, tokens],
  );
}

/** out [T, Hq·D] = causal softmax(scale · q kᵀ) v over cache positions 0 … pos0 + t. */
export function attentionKernel(
  ws: Workspace, d: AttentionDims & { scale: number },
  b: { pos0: GPUBuffer; q: GPUBuffer; cache: KVCache; out: GPUBuffer }, tokens: number,
): Dispatch {
  const pipeline = computePipeline(ws.device, 'attention', code);
  const params = ws.uniform([d.heads, d.kvHeads, d.headDim, d.maxSeq, f32Bits(d.scale)], 'attention params');
  return ws.dispatch(pipeline, [params, b.pos0, b.q, b.cache.k, b.cache.v, b.out], [d.heads, tokens]);
}

/** (cos, sin) of position · θ^(−2i/D) for i < D/2, in float64 then rounded: [maxSeq, D/2, 2]. */
export function ropeTable(maxSeq: number, headDim: number, theta: number): Float32Array<ArrayBuffer> {
  const half = headDim / 2;
  const table = new Float32Array(maxSeq * headDim);
  for (let pos = 0; pos < maxSeq; pos++) {
    for (let i = 0; i < half; i++) {
      const angle = pos * theta ** (-(2 * i) / headDim);
      table[(pos * half + i) * 2] = Math.cos(angle);
      table[(pos * half + i) * 2 + 1] = Math.sin(angle);
    }
  }
  return table;
}
