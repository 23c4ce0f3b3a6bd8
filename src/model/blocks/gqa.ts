// Grouped-query attention with rotary embeddings (rotate-half), as Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE,
// GraniteMoE and gpt-oss have it: q, k and v projected by one fused matrix, then bias, q/k RMSNorm (per
// head or over the whole projection), clip and rotation, the KV cache, causal softmax over it (all of it,
// or a sliding window; with attention sinks where the checkpoint has them), and the o projection (+ bias).
import { attentionDecodeKernel, attentionKernel, attentionPrepKernel, type QKNorm } from '../../kernels/attention.js';
import { uploadBuffer, type Workspace } from '../../gpu/workspace.js';
import type { ExpertMatrix } from '../../weights/matrix.js';
import { linear } from '../linear.js';
import { checkActivation } from '../limits.js';
import { type Rope, ropeKey, ropeTable } from '../rope.js';
import type { AttentionBlock, AttentionIO, BlockLoader } from './block.js';

export interface GqaSpec {
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  rope: Rope;
  /** the softmax scale: 1/√headDim, or GraniteMoE's attention_multiplier */
  scale: number;
  /** the q/k norms' epsilon */
  eps: number;
  qkNorm: QKNorm;
  /** Sliding window W: a query at position p sees keys p − W < j ≤ p, and the cache keeps a ring. Absent: all j ≤ p. */
  window?: number;
  /** q, k and v clamped to ±clip after the projections and q/k norms (OLMoE's clip_qkv). */
  clip?: number;
  /** Tensor [heads] of attention sinks: a logit per query head in the softmax denominator (gpt-oss). */
  sinks?: string;
  /**
   * tensor names: projections [rows, H] (o: [H, heads·D]), q/k/v biases [rows], o bias [H], q/k norm
   * weights
   */
  names: { q: string; k: string; v: string; o: string; bias?: [string, string, string]; oBias?: string; qkNorm?: [string, string] };
}

/** The block of `s`: its tensors are declared on the load context, the block made once they are in. */
export const gqa = (s: GqaSpec): BlockLoader<AttentionBlock> => (ctx) => {
  const { hidden: H, heads, kvHeads, headDim: D, names } = s;
  const qkvRows = (heads + 2 * kvHeads) * D;
  // q, k and v rows in one matrix, so one GEMM projects all three.
  const qkv = ctx.matrix({ experts: 1, parts: 1, outputs: qkvRows, inner: H }, `${ctx.label} qkv`, 'other');
  const parts: [string, number, number][] = [[names.q, 0, heads * D], [names.k, heads * D, kvHeads * D], [names.v, (heads + kvHeads) * D, kvHeads * D]];
  for (const [name, at, rows] of parts) ctx.rows(name, [rows, H], qkv, at);
  const bias = new Float32Array(qkvRows); // zeros without q/k/v bias
  names.bias?.forEach((name, i) => ctx.host(name, [parts[i][2]], bias, parts[i][1]));
  // q then k norm weights (a placeholder without q/k norm)
  const norms = new Float32Array(s.qkNorm === 'head' ? 2 * D : s.qkNorm === 'full' ? qkvRows - kvHeads * D : 1);
  if (s.qkNorm !== 'none') {
    const [qSize, kSize] = s.qkNorm === 'head' ? [D, D] : [heads * D, kvHeads * D];
    ctx.host(names.qkNorm![0], [qSize], norms);
    ctx.host(names.qkNorm![1], [kSize], norms, qSize);
  }
  const o = ctx.matrix({ experts: 1, parts: 1, outputs: H, inner: heads * D }, `${ctx.label} o`, 'other');
  ctx.rows(names.o, [H, heads * D], o, 0);
  const oBias = names.oBias === undefined ? undefined : new Float32Array(H);
  if (oBias) ctx.host(names.oBias!, [H], oBias);
  const sinks = new Float32Array(s.sinks === undefined ? 1 : heads); // a placeholder without sinks
  if (s.sinks !== undefined) ctx.host(s.sinks, [heads], sinks);
  if (s.window !== undefined && !(Number.isInteger(s.window) && s.window >= 1)) {
    throw new RangeError(`${ctx.label}: a sliding window must be a positive integer, got ${s.window}`);
  }
  if (s.rope.invFreq.length * 2 !== D) throw new RangeError(`${ctx.label}: the rotary embedding turns ${s.rope.invFreq.length} pairs, the heads have ${D / 2}`);
  const rope = ctx.shared(ropeKey(s.rope, ctx.contextLength), () => uploadBuffer(ctx.device, ropeTable(ctx.contextLength, s.rope), 'rope table'));
  const upload = (data: Float32Array<ArrayBuffer>, what: string) => uploadBuffer(ctx.device, data, `${ctx.label} ${what}`);
  return () =>
    new Gqa(ctx.device, s, qkv, o, {
      bias: upload(bias, 'qkv bias'),
      norms: upload(norms, 'q/k norm'),
      sinks: upload(sinks, 'sinks'),
      oBias: oBias && upload(oBias, 'o bias'),
    }, rope);
};

/** The small f32 tensors of a block on the GPU (sinks: a placeholder when there are none). */
interface GqaTensors {
  bias: GPUBuffer;
  norms: GPUBuffer;
  sinks: GPUBuffer;
  oBias?: GPUBuffer;
}

class Gqa implements AttentionBlock {
  readonly cache;
  readonly window;

  constructor(
    private readonly device: GPUDevice,
    private readonly s: GqaSpec,
    private readonly qkv: ExpertMatrix,
    private readonly o: ExpertMatrix,
    private readonly t: GqaTensors,
    private readonly rope: () => GPUBuffer,
  ) {
    // [slots, Hkv, positions, D] each
    const bytesPerPosition = s.kvHeads * s.headDim * 4;
    this.cache = [{ name: 'k', bytesPerPosition }, { name: 'v', bytesPerPosition }];
    this.window = s.window;
  }

  plan(ws: Workspace, io: AttentionIO) {
    const { heads, kvHeads, headDim: D } = this.s;
    const T = io.tokens;
    const qkvBytes = T * (heads + 2 * kvHeads) * D * 4;
    checkActivation(this.device, qkvBytes, T);
    // Intermediates shared by every layer's attention in the plan: the layers run one after another.
    const qkv = ws.scratch('qkv', qkvBytes);
    const att = ws.scratch('attention', T * heads * D * 4);
    const dims = { heads, kvHeads, headDim: D, maxSeq: io.positions };
    const cache = { k: io.cache.k, v: io.cache.v };
    const { bias, norms, sinks, oBias } = this.t;
    const { qkNorm: norm, eps, clip, scale, window } = this.s;
    const prep = { norm, eps, clip };
    const attend = { scale, window, sinks: this.s.sinks !== undefined };
    const at = io.at;
    // A decode step (one token per sequence) prepares q, k and v inside its attention: one launch fewer.
    const q = !io.decode && ws.scratch('q', T * heads * D * 4);
    const attention = q
      ? [
        attentionPrepKernel(ws, { ...dims, ...prep }, { at, qkv, bias, norms, rope: this.rope(), q, cache }, T),
        attentionKernel(ws, { ...dims, ...attend }, { at, q, cache, sinks, out: att }, T),
      ]
      : [attentionDecodeKernel(ws, { ...dims, ...prep, ...attend }, { at, qkv, bias, norms, rope: this.rope(), cache, sinks, out: att }, T)];
    return [...linear(ws, this.qkv, io.x, qkv, T), ...attention, ...linear(ws, this.o, att, io.out, T, 1, oBias)];
  }

  destroy(): void {
    for (const b of Object.values(this.t)) b?.destroy();
  }
}
