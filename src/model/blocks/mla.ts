// Multi-head Latent Attention (DeepSeek-V2/V3), in the weight-absorbed form: the KV cache holds one
// row a position, the compressed kv (kv_lora_rank C, after kv_a_layernorm) and the rope key
// (qk_rope_head_dim R), for every head; queries are lifted into that latent space by kv_b_proj's key
// rows and the attention's latent output back out by its value rows, so no position's full keys and
// values are ever made. One projection computes q (q_proj, or q_a_proj for q_lora_rank) and
// kv_a_proj_with_mqa together; then kernels/mla.ts, q_b_proj between (with q_lora_rank), o_proj.
import { MLA_LIMITS, mlaAttentionKernel, mlaPrepKernel, mlaQueryKernel, mlaValueKernel } from '../../kernels/mla.js';
import { uploadBuffer, type Workspace } from '../../gpu/workspace.js';
import type { ExpertMatrix } from '../../weights/matrix.js';
import { linear } from '../linear.js';
import { checkActivation } from '../limits.js';
import { type Rope, ropeKey, ropeTable } from '../rope.js';
import type { AttentionBlock, AttentionIO, BlockLoader } from './block.js';

export interface MlaSpec {
  hidden: number;
  heads: number;
  /** q_lora_rank: q = q_b_proj(RMSNorm(q_a_proj(x))); absent: q = q_proj(x) */
  qLoraRank?: number;
  kvLoraRank: number;
  qkNopeHeadDim: number;
  qkRopeHeadDim: number;
  vHeadDim: number;
  /** the rotary embedding of the rope part (qk_rope_head_dim / 2 pairs) */
  rope: Rope;
  /** rope pairs (2i, 2i+1), the checkpoints' layout; else (i, i + R/2) */
  interleave: boolean;
  /** the softmax scale */
  scale: number;
  /** q_a_layernorm's and kv_a_layernorm's epsilon */
  eps: number;
  /** tensor names: q or qA/qANorm/qB, kvA [C + R, H], kvANorm [C], kvB [heads·(nope + V), C], o [H, heads·V] */
  names: { q?: string; qA?: string; qANorm?: string; qB?: string; kvA: string; kvANorm: string; kvB: string; o: string };
}

/** The block of `s`: its tensors are declared on the load context, the block made once they are in. */
export const mla = (s: MlaSpec): BlockLoader<AttentionBlock> => (ctx) => {
  const { hidden: H, heads, qLoraRank, kvLoraRank: C, qkNopeHeadDim: nope, qkRopeHeadDim: R, vHeadDim: V, names } = s;
  if (nope > MLA_LIMITS.nope || C + R > MLA_LIMITS.latent) {
    throw new RangeError(
      `${ctx.label}: MLA needs qk_nope_head_dim ≤ ${MLA_LIMITS.nope} and kv_lora_rank + qk_rope_head_dim ≤ ${MLA_LIMITS.latent}, got ${nope} and ${C + R}`,
    );
  }
  if (s.rope.invFreq.length * 2 !== R) {
    throw new RangeError(`${ctx.label}: the rotary embedding turns ${s.rope.invFreq.length} pairs, the rope part has ${R / 2}`);
  }
  const qRows = heads * (nope + R);
  const Q = qLoraRank ?? qRows;
  // q (or its latent) and kv_a's rows in one matrix, so one GEMM projects both.
  const first = ctx.matrix({ experts: 1, parts: 1, outputs: Q + C + R, inner: H }, `${ctx.label} q/kv_a`, 'other');
  ctx.rows((qLoraRank ? names.qA : names.q)!, [Q, H], first, 0);
  ctx.rows(names.kvA, [C + R, H], first, Q);
  const norms = new Float32Array(C + (qLoraRank ?? 0)); // kv_a_layernorm, then q_a_layernorm
  ctx.host(names.kvANorm, [C], norms);
  let qB: ExpertMatrix | undefined;
  if (qLoraRank) {
    ctx.host(names.qANorm!, [qLoraRank], norms, C);
    qB = ctx.matrix({ experts: 1, parts: 1, outputs: qRows, inner: qLoraRank }, `${ctx.label} q_b`, 'other');
    ctx.rows(names.qB!, [qRows, qLoraRank], qB, 0);
  }
  // kv_b_proj as one "expert" a head, so a split over bindings keeps each head's rows in one.
  const kvB = ctx.matrix({ experts: heads, parts: 1, outputs: nope + V, inner: C }, `${ctx.label} kv_b`, 'other');
  if (kvB.chunks.some((c) => c.n0 !== 0 || c.n1 !== nope + V)) {
    throw new RangeError(`${ctx.label}: one head's rows of ${names.kvB} (${nope + V} × ${C}) exceed a storage binding`);
  }
  ctx.rows(names.kvB, [heads * (nope + V), C], kvB, 0);
  const o = ctx.matrix({ experts: 1, parts: 1, outputs: H, inner: heads * V }, `${ctx.label} o`, 'other');
  ctx.rows(names.o, [H, heads * V], o, 0);
  const rope = ctx.shared(ropeKey(s.rope, ctx.contextLength), () => uploadBuffer(ctx.device, ropeTable(ctx.contextLength, s.rope), 'rope table'));
  return () => new Mla(ctx.device, s, { first, qB, kvB, o }, uploadBuffer(ctx.device, norms, `${ctx.label} q/kv_a norms`), rope);
};

class Mla implements AttentionBlock {
  readonly cache;

  constructor(
    private readonly device: GPUDevice,
    private readonly s: MlaSpec,
    private readonly m: { first: ExpertMatrix; qB?: ExpertMatrix; kvB: ExpertMatrix; o: ExpertMatrix },
    private readonly norms: GPUBuffer,
    private readonly rope: () => GPUBuffer,
  ) {
    // [slots, positions, C + R]: the compressed kv, then the rope key
    this.cache = [{ name: 'latent', bytesPerPosition: (s.kvLoraRank + s.qkRopeHeadDim) * 4 }];
  }

  plan(ws: Workspace, io: AttentionIO) {
    const { heads, qLoraRank, kvLoraRank: C, qkNopeHeadDim: nope, qkRopeHeadDim: R, vHeadDim: V } = this.s;
    const T = io.tokens;
    const qRows = heads * (nope + R);
    const Q = qLoraRank ?? qRows;
    const bytes = { a: T * (Q + C + R) * 4, q: T * qRows * 4, qc: T * heads * (C + R) * 4, lat: T * heads * C * 4, out: T * heads * V * 4 };
    checkActivation(this.device, Math.max(...Object.values(bytes)), T);
    // Intermediates shared by every layer's attention in the plan: the layers run one after another.
    const a = ws.scratch('mla a', bytes.a);
    const qc = ws.scratch('mla qc', bytes.qc);
    const lat = ws.scratch('mla lat', bytes.lat);
    const values = ws.scratch('mla values', bytes.out);
    const d = { heads, C, R, nope, V, interleave: this.s.interleave };
    const { at, positions: maxSeq } = io;
    const latent = io.cache.latent;
    const rope = this.rope();
    const qa = qLoraRank ? ws.scratch('mla qa', T * qLoraRank * 4) : undefined;
    const q = qLoraRank ? ws.scratch('mla q', bytes.q) : a; // without q_lora_rank, a's rows start with q
    return [
      ...linear(ws, this.m.first, io.x, a, T),
      mlaPrepKernel(ws, { ...d, Q, eps: this.s.eps, maxSeq }, { at, a, norms: this.norms, rope, latent, qa }, T),
      ...(qa ? linear(ws, this.m.qB!, qa, q, T) : []),
      ...mlaQueryKernel(ws, { ...d, qStride: qLoraRank ? qRows : Q + C + R }, { at, q, kvB: this.m.kvB, rope, qc }, T),
      mlaAttentionKernel(ws, { ...d, scale: this.s.scale, maxSeq }, { at, qc, latent, lat }, T),
      ...mlaValueKernel(ws, d, { lat, kvB: this.m.kvB, out: values }, T),
      ...linear(ws, this.m.o, values, io.out, T),
    ];
  }

  destroy(): void {
    this.norms.destroy();
  }
}
