// Grouped-query attention with rotary embeddings (rotate-half), as Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE
// and GraniteMoE have it: q, k and v projected by one fused matrix, then bias, q/k RMSNorm (per head or
// over the whole projection) and rotation, the KV cache, causal softmax over it, and the o projection.
import { attentionKernel, attentionPrepKernel, type QKNorm } from '../../kernels/attention.js';
import { uploadBuffer, type Workspace } from '../../gpu/workspace.js';
import type { ExpertMatrix } from '../../weights/matrix.js';
import { linear } from '../linear.js';
import { checkActivation } from '../limits.js';
import { type Rope, ropeKey, ropeTable } from '../rope.js';
import type { AttentionBlock, BlockLoader } from './block.js';

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
  /** tensor names: projections [rows, H] (o: [H, heads·D]), biases [rows], q/k norm weights */
  names: { q: string; k: string; v: string; o: string; bias?: [string, string, string]; qkNorm?: [string, string] };
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
  if (s.rope.invFreq.length * 2 !== D) throw new RangeError(`${ctx.label}: the rotary embedding turns ${s.rope.invFreq.length} pairs, the heads have ${D / 2}`);
  const rope = ctx.shared(ropeKey(s.rope, ctx.contextLength), () => uploadBuffer(ctx.device, ropeTable(ctx.contextLength, s.rope), 'rope table'));
  return () =>
    new Gqa(ctx.device, s, qkv, o, uploadBuffer(ctx.device, bias, `${ctx.label} qkv bias`), uploadBuffer(ctx.device, norms, `${ctx.label} q/k norm`), rope);
};

class Gqa implements AttentionBlock {
  readonly cache;

  constructor(
    private readonly device: GPUDevice,
    private readonly s: GqaSpec,
    private readonly qkv: ExpertMatrix,
    private readonly o: ExpertMatrix,
    private readonly bias: GPUBuffer,
    private readonly norms: GPUBuffer,
    private readonly rope: () => GPUBuffer,
  ) {
    // [Hkv, positions, D] each
    const bytesPerPosition = s.kvHeads * s.headDim * 4;
    this.cache = [{ name: 'k', bytesPerPosition }, { name: 'v', bytesPerPosition }];
  }

  plan(ws: Workspace, io: { x: GPUBuffer; out: GPUBuffer; tokens: number; pos0: GPUBuffer; cache: Record<string, GPUBuffer>; positions: number }) {
    const { heads, kvHeads, headDim: D } = this.s;
    const T = io.tokens;
    const qkvBytes = T * (heads + 2 * kvHeads) * D * 4;
    checkActivation(this.device, qkvBytes, T);
    // Intermediates shared by every layer's attention in the plan: the layers run one after another.
    const qkv = ws.scratch('qkv', qkvBytes);
    const q = ws.scratch('q', T * heads * D * 4);
    const att = ws.scratch('attention', T * heads * D * 4);
    const dims = { heads, kvHeads, headDim: D, maxSeq: io.positions };
    const cache = { k: io.cache.k, v: io.cache.v };
    return [
      ...linear(ws, this.qkv, io.x, qkv, T),
      attentionPrepKernel(ws, { ...dims, norm: this.s.qkNorm, eps: this.s.eps }, { pos0: io.pos0, qkv, bias: this.bias, norms: this.norms, rope: this.rope(), q,
        cache }, T),
      attentionKernel(ws, { ...dims, scale: this.s.scale }, { pos0: io.pos0, q, cache, out: att }, T),
      ...linear(ws, this.o, att, io.out, T),
    ];
  }

  destroy(): void {
    this.bias.destroy();
    this.norms.destroy();
  }
}
