// Multi-head Latent Attention's kernels (DeepSeek-V2/V3; src/model/blocks/mla.ts runs them between its
// projections): the latent cache and query latent from the first projection (mla_prep), each head's
// query absorbed into the latent space (mla_query), attention over the latent cache (mla_attention)
// and the heads' values out of it (mla_value). kv_b_proj is one matrix [heads][nope + V][C] in any
// weight format, split over bindings by whole heads; mla_query reads its key rows, mla_value its value rows.
import type { Dispatch, Workspace } from '../gpu/workspace.js';
import { FORMAT_PRELUDES, STORAGES } from '../weights/format.js';
import type { ExpertMatrix } from '../weights/matrix.js';
import { defineKernel } from './kernel.js';

/** A layer's sizes: C = kv_lora_rank, R = qk_rope_head_dim, nope = qk_nope_head_dim, V = v_head_dim. */
export interface MlaDims {
  heads: number;
  C: number;
  R: number;
  nope: number;
  V: number;
  /** the rope pairs' layout: (2i, 2i+1) (the checkpoints'), else (i, i + R/2) */
  interleave: boolean;
}

export const MLA_PREP = defineKernel('mla prep', {
  files: ['mla_rope', 'mla_prep'],
  uniforms: { A: 'u32', Q: 'u32', C: 'u32', R: 'u32', maxSeq: 'u32', eps: 'f32' },
  bindings: { at: 'read', a: 'read', norms: 'read', rope: 'read', latent: 'read_write', qa: 'read_write' },
  overrides: ['INTERLEAVE'],
});

export const MLA_QUERY = defineKernel('mla query', {
  files: ['mla_rope', 'mla_query'],
  uniforms: { K: 'u32', heads: 'u32', h0: 'u32', nope: 'u32', R: 'u32', V: 'u32', qStride: 'u32' },
  bindings: { at: 'read', q: 'read', w: 'read', rope: 'read', qc: 'read_write' },
  preludes: FORMAT_PRELUDES,
  overrides: ['INTERLEAVE'],
});

export const MLA_ATTENTION = defineKernel('mla attention', {
  files: ['mla_attention'],
  uniforms: { heads: 'u32', C: 'u32', R: 'u32', maxSeq: 'u32', scale: 'f32' },
  bindings: { at: 'read', qc: 'read', latent: 'read', lat: 'read_write' },
});

export const MLA_VALUE = defineKernel('mla value', {
  files: ['mla_value'],
  uniforms: { K: 'u32', heads: 'u32', h0: 'u32', nope: 'u32', V: 'u32' },
  bindings: { lat: 'read', w: 'read', out: 'read_write' },
  preludes: FORMAT_PRELUDES,
});

/** mla_query.wgsl's NOPE_MAX, mla_attention.wgsl's D_MAX (C + R; mla_value.wgsl's C_MAX is no less). */
export const MLA_LIMITS = { nope: 512, latent: 768 } as const;

/** mla_attention.wgsl's HG: heads a workgroup. */
const HEADS_PER_WORKGROUP = 4;

/**
 * a [T, Q + C + R] → the latent cache [slots, maxSeq, C + R]: token t at position at[t].x of slot
 * at[t].y (`at`: [T] pairs of u32), and with `qa` (q_lora_rank Q) the
 * normalised query latent qa [T, Q]; norms = kv_a_layernorm [C] then q_a_layernorm [Q]. `qa` absent:
 * the first Q values of each row of a are the query itself, left for mla_query (a 4-byte buffer is
 * bound as qa, unwritten).
 */
export function mlaPrepKernel(
  ws: Workspace,
  d: MlaDims & { Q: number; eps: number; maxSeq: number },
  b: { at: GPUBuffer; a: GPUBuffer; norms: GPUBuffer; rope: GPUBuffer; latent: GPUBuffer; qa?: GPUBuffer },
  tokens: number,
): Dispatch {
  return MLA_PREP.launch(ws, {
    uniforms: { A: d.Q + d.C + d.R, Q: d.Q, C: d.C, R: d.R, maxSeq: d.maxSeq, eps: d.eps },
    buffers: { ...b, qa: b.qa ?? ws.scratch('mla unused', 4) },
    grid: [b.qa ? 2 : 1, tokens],
    overrides: { INTERLEAVE: d.interleave ? 1 : 0 },
  });
}

/** qc [T, heads, C + R] from q (row t at t · qStride, head h at h · (nope + R)): once per binding of kvB. */
export function mlaQueryKernel(
  ws: Workspace,
  d: MlaDims & { qStride: number },
  b: { at: GPUBuffer; q: GPUBuffer; kvB: ExpertMatrix; rope: GPUBuffer; qc: GPUBuffer },
  tokens: number,
): Dispatch[] {
  return b.kvB.chunks.map((c) =>
    MLA_QUERY.launch(ws, {
      uniforms: { K: d.C, heads: d.heads, h0: c.e0, nope: d.nope, R: d.R, V: d.V, qStride: d.qStride },
      buffers: { at: b.at, q: b.q, w: c.buffer, rope: b.rope, qc: b.qc },
      grid: [c.e1 - c.e0, tokens],
      preludes: STORAGES[b.kvB.dtype].prelude,
      overrides: { INTERLEAVE: d.interleave ? 1 : 0 },
    })
  );
}

/** lat [T, heads, C]: causal softmax(scale · qc · latentᵀ) · latent[:, :C] over token t's slot at[t].y, positions 0 … at[t].x. */
export function mlaAttentionKernel(
  ws: Workspace,
  d: MlaDims & { scale: number; maxSeq: number },
  b: { at: GPUBuffer; qc: GPUBuffer; latent: GPUBuffer; lat: GPUBuffer },
  tokens: number,
): Dispatch {
  const grid: [number, number] = [Math.ceil(d.heads / HEADS_PER_WORKGROUP), tokens];
  return MLA_ATTENTION.launch(ws, { uniforms: { heads: d.heads, C: d.C, R: d.R, maxSeq: d.maxSeq, scale: d.scale }, buffers: b, grid });
}

/** out [T, heads · V] = each head's W_UV · lat: once per binding of kvB. */
export function mlaValueKernel(ws: Workspace, d: MlaDims, b: { lat: GPUBuffer; kvB: ExpertMatrix; out: GPUBuffer }, tokens: number): Dispatch[] {
  return b.kvB.chunks.map((c) =>
    MLA_VALUE.launch(ws, {
      uniforms: { K: d.C, heads: d.heads, h0: c.e0, nope: d.nope, V: d.V },
      buffers: { lat: b.lat, w: c.buffer, out: b.out },
      grid: [c.e1 - c.e0, tokens],
      preludes: STORAGES[b.kvB.dtype].prelude,
    })
  );
}
