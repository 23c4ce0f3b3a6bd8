// The decoder forward shared by every family: embedding → per layer (RMSNorm → fused qkv projection
// → bias, q/k norm, rotary, KV cache → attention → o projection → residual + RMSNorm → MoE block or
// dense MLP → residual) → final RMSNorm → lm_head. All of it is recorded into one command encoder
// and submitted once; only the logits are read back. (A layer's MLP may instead leave the GPU — the
// expert-parallel scheduler's blocks submit the encoder, and the forward goes on in a new one.)
import { attentionKernel, attentionPrepKernel, type KVCache, ropeTable } from '../kernels/attention.js';
import { embedKernel } from '../kernels/embed.js';
import { rmsNormKernel } from '../kernels/rmsnorm.js';
import { storageBindingLimit } from '../gpu/limits.js';
import { PlanCache } from '../gpu/plans.js';
import { type Dispatch, readBuffers, uploadBuffer, Workspace } from '../gpu/workspace.js';
import type { MLPBlock } from '../moe/block.js';
import { destroyExpertMatrix, type ExpertMatrix } from '../weights/matrix.js';
import type { ModelConfig } from './config.js';
import { linear } from './linear.js';

export interface DecoderLayer {
  inputNorm: GPUBuffer;
  postNorm: GPUBuffer;
  /** [(Hq + 2·Hkv)·D, H]: q, k and v rows in one matrix, so one GEMM projects all three */
  qkv: ExpertMatrix;
  /** [(Hq + 2·Hkv)·D] (zeros without q/k/v bias) */
  qkvBias: GPUBuffer;
  /** q then k norm weights (a placeholder without q/k norm) */
  qkNorm: GPUBuffer;
  /** [H, Hq·D] */
  o: ExpertMatrix;
  /** the MoE block, or a dense MLP as a MoE layer of one expert */
  mlp: MLPBlock;
}

export interface DecoderWeights {
  /** [V, H] */
  embed: ExpertMatrix;
  /** [V, H]: the embedding itself when tied */
  lmHead: ExpertMatrix;
  finalNorm: GPUBuffer;
  layers: DecoderLayer[];
}

export class DecoderInputError extends Error {
  override name = 'DecoderInputError';
}

/** Which rows of logits a forward returns: every position (scoring a text) or the last (generation). */
export type LogitRows = 'all' | 'last';

interface Plan {
  ws: Workspace;
  ids: GPUBuffer;
  logits: GPUBuffer;
  steps: ((encoder: GPUCommandEncoder) => void | Promise<GPUCommandEncoder>)[];
}

/** Plans kept, per (token count, logit rows): decode reuses one, each prompt length makes one. */
const PLANS_KEPT = 4;

export class Decoder {
  private readonly caches: KVCache[];
  private readonly rope: GPUBuffer;
  private readonly pos0: GPUBuffer;
  private readonly plans = new PlanCache<Plan>(PLANS_KEPT);

  constructor(
    private readonly device: GPUDevice,
    readonly config: Readonly<ModelConfig>,
    private readonly w: DecoderWeights,
    /** positions the KV cache holds */
    readonly contextLength: number,
  ) {
    const { kvHeads, headDim } = config;
    const cacheBytes = kvHeads * contextLength * headDim * 4;
    const limit = storageBindingLimit(device);
    if (cacheBytes > limit) {
      throw new DecoderInputError(`webmoe: a layer's KV cache for ${contextLength} positions needs ${cacheBytes} bytes per binding, over the storage binding limit ${limit}: use a shorter contextLength`);
    }
    const cache = (label: string) => device.createBuffer({ label, size: cacheBytes, usage: GPUBufferUsage.STORAGE });
    this.caches = w.layers.map((_, l) => ({ k: cache(`layer ${l} k cache`), v: cache(`layer ${l} v cache`) }));
    this.rope = uploadBuffer(device, ropeTable(contextLength, headDim, config.ropeTheta), 'rope table');
    this.pos0 = device.createBuffer({ label: 'pos0', size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  }

  /**
   * Runs `tokens` at positions pos0, pos0 + 1, … (the cache must hold positions before pos0) and
   * returns their logits, [rows, vocab] row-major.
   */
  async forward(tokens: ArrayLike<number>, pos0: number, rows: LogitRows): Promise<Float32Array> {
    const T = tokens.length;
    const { vocab } = this.config;
    if (T === 0) throw new DecoderInputError('webmoe: forward() needs at least one token');
    if (pos0 + T > this.contextLength) {
      throw new DecoderInputError(`webmoe: positions ${pos0}…${pos0 + T - 1} exceed the context length ${this.contextLength}`);
    }
    for (let i = 0; i < T; i++) {
      const id = tokens[i];
      if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new DecoderInputError(`webmoe: token ${i} is ${id}, outside the vocabulary 0…${vocab - 1}`);
    }
    const plan = this.plan(T, rows);
    this.device.queue.writeBuffer(plan.ids, 0, Uint32Array.from(tokens));
    this.device.queue.writeBuffer(this.pos0, 0, new Uint32Array([pos0]));
    let encoder = this.device.createCommandEncoder({ label: 'decoder forward' });
    for (const step of plan.steps) {
      const next = step(encoder);
      if (next) encoder = await next;
    }
    const [logits] = await readBuffers(this.device, [plan.logits], encoder);
    return new Float32Array(logits);
  }

  /** A layer's weights; its MoE block's routing() holds the routing of the last forward. */
  layer(l: number): Readonly<DecoderLayer> {
    return this.w.layers[l];
  }

  destroy(): void {
    this.plans.destroy();
    for (const c of this.caches) { c.k.destroy(); c.v.destroy(); }
    this.rope.destroy();
    this.pos0.destroy();
    const { embed, lmHead, finalNorm, layers } = this.w;
    destroyExpertMatrix(embed);
    if (lmHead !== embed) destroyExpertMatrix(lmHead);
    finalNorm.destroy();
    for (const l of layers) {
      for (const b of [l.inputNorm, l.postNorm, l.qkvBias, l.qkNorm]) b.destroy();
      destroyExpertMatrix(l.qkv);
      destroyExpertMatrix(l.o);
      l.mlp.destroy();
    }
  }

  private plan(T: number, rows: LogitRows): Plan {
    return this.plans.get(`${T} ${rows}`, () => this.build(T, rows));
  }

  private build(T: number, rows: LogitRows): Plan {
    const c = this.config;
    const { hidden: H, heads, kvHeads, headDim: D, vocab } = c;
    const outRows = rows === 'all' ? T : 1;
    const limit = storageBindingLimit(this.device);
    const widest = Math.max(T * (heads + 2 * kvHeads) * D, outRows * vocab) * 4;
    if (widest > limit) {
      throw new DecoderInputError(`webmoe: ${T} tokens need a ${widest}-byte activation buffer, over the storage binding limit ${limit}: run fewer tokens per call`);
    }
    const ws = new Workspace(this.device);
    const ids = ws.buffer(T * 4, 'token ids');
    const h = ws.buffer(T * H * 4, 'residual');
    const n = ws.buffer(T * H * 4, 'normed');
    const qkv = ws.buffer(T * (heads + 2 * kvHeads) * D * 4, 'qkv');
    const q = ws.buffer(T * heads * D * 4, 'q');
    const att = ws.buffer(T * heads * D * 4, 'attention');
    const y = ws.buffer(T * H * 4, 'sub-block out');
    const logits = ws.buffer(outRows * vocab * 4, 'logits');
    const dims = { heads, kvHeads, headDim: D, maxSeq: this.contextLength };

    const steps: Plan['steps'] = [];
    let pass: Dispatch[] = [];
    const endPass = () => {
      const dispatches = pass;
      pass = [];
      steps.push((encoder) => {
        const p = encoder.beginComputePass({ label: 'decoder' });
        for (const d of dispatches) d(p);
        p.end();
      });
    };

    pass.push(...embedKernel(ws, this.w.embed, { ids, x: h }, T, c.embeddingScale));
    this.w.layers.forEach((layer, l) => {
      // The previous layer's MLP output (in y) joins the residual as this layer's norm runs.
      pass.push(rmsNormKernel(ws, { h, add: l ? y : undefined, weight: layer.inputNorm, out: n }, T, H, c.rmsEps, c.residualScale));
      pass.push(...linear(ws, layer.qkv, n, qkv, T));
      pass.push(attentionPrepKernel(ws, { ...dims, norm: c.qkNorm, eps: c.rmsEps }, {
        pos0: this.pos0, qkv, bias: layer.qkvBias, norms: layer.qkNorm, rope: this.rope, q, cache: this.caches[l],
      }, T));
      pass.push(attentionKernel(ws, { ...dims, scale: c.attentionScale }, { pos0: this.pos0, q, cache: this.caches[l], out: att }, T));
      pass.push(...linear(ws, layer.o, att, y, T));
      pass.push(rmsNormKernel(ws, { h, add: y, weight: layer.postNorm, out: n }, T, H, c.rmsEps, c.residualScale));
      endPass();
      steps.push((encoder) => layer.mlp.encode(encoder, n, y, T));
    });
    pass.push(rmsNormKernel(ws, { h, add: y, weight: this.w.finalNorm, out: n }, T, H, c.rmsEps, c.residualScale));
    let head = n;
    if (rows === 'last') {
      endPass();
      head = ws.buffer(H * 4, 'last row');
      const last = head;
      steps.push((encoder) => encoder.copyBufferToBuffer(n, (T - 1) * H * 4, last, 0, H * 4));
    }
    pass.push(...linear(ws, this.w.lmHead, head, logits, outRows, c.logitsScale));
    endPass();
    return { ws, ids, logits, steps };
  }
}
