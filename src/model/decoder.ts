// The decoder forward shared by every family: embedding → per layer (RMSNorm → attention block →
// residual + RMSNorm → MLP block → residual) → final RMSNorm → lm_head. The blocks are the family's
// (blocks/); all of it is recorded into one command encoder and submitted once, and only the logits
// are read back. (An MLP block may leave the GPU — the expert-parallel scheduler's — and the forward
// goes on in the encoder it resolves to.)
import { embedKernel } from '../kernels/embed.js';
import { rmsNormKernel } from '../kernels/rmsnorm.js';
import { storageBindingLimit } from '../gpu/limits.js';
import { PlanCache } from '../gpu/plans.js';
import { recordSteps, type Step } from '../gpu/steps.js';
import { readBuffers, Workspace } from '../gpu/workspace.js';
import type { RoutingBuffers } from '../moe/router.js';
import type { ExpertMatrix } from '../weights/matrix.js';
import type { AttentionBlock, MLPBlock } from './blocks/block.js';
import type { ModelConfig } from './config.js';
import { checkActivation, DecoderInputError } from './limits.js';
import { linear } from './linear.js';

export { DecoderInputError };

export interface DecoderLayer {
  /** [H] RMSNorm weights before the attention and before the MLP */
  inputNorm: GPUBuffer;
  postNorm: GPUBuffer;
  attention: AttentionBlock;
  mlp: MLPBlock;
}

export interface DecoderWeights {
  /** [V, H] */
  embed: ExpertMatrix;
  /** [V, H]: the embedding itself when tied */
  lmHead: ExpertMatrix;
  finalNorm: GPUBuffer;
  layers: DecoderLayer[];
  /** Everything else the model's GPU memory is made of (matrices, norms, tables), freed with it. */
  owned: { destroy(): void }[];
}

/** Which rows of logits a forward returns: every position (scoring a text) or the last (generation). */
export type LogitRows = 'all' | 'last';

interface Plan {
  ws: Workspace;
  ids: GPUBuffer;
  logits: GPUBuffer;
  steps: Step[];
  /** per layer, the routing its MLP block writes (none for a dense MLP) */
  routing: (RoutingBuffers | undefined)[];
}

/** Plans kept, per (token count, logit rows): decode reuses one, each prompt length makes one. */
const PLANS_KEPT = 4;

export class Decoder {
  private readonly caches: Record<string, GPUBuffer>[];
  private readonly pos0: GPUBuffer;
  private readonly plans = new PlanCache<Plan>(PLANS_KEPT);
  private last?: Plan;

  constructor(
    private readonly device: GPUDevice,
    readonly config: Readonly<ModelConfig>,
    private readonly w: DecoderWeights,
    /** positions the KV cache holds */
    readonly contextLength: number,
  ) {
    const limit = storageBindingLimit(device);
    for (const { attention } of w.layers) {
      for (const c of attention.cache) {
        const bytes = c.bytesPerPosition * contextLength;
        if (bytes > limit) {
          throw new DecoderInputError(
            `webmoe: a layer's KV cache for ${contextLength} positions needs ${bytes} bytes per binding, over the storage binding limit ${limit}: use a shorter contextLength`,
          );
        }
      }
    }
    this.caches = w.layers.map(({ attention }, l) =>
      Object.fromEntries(
        attention.cache.map((
          c,
        ) => [c.name, device.createBuffer({ label: `layer ${l} ${c.name} cache`, size: c.bytesPerPosition * contextLength, usage: GPUBufferUsage.STORAGE })]),
      )
    );
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
    const plan = this.plans.get(`${T} ${rows}`, () => this.build(T, rows));
    this.device.queue.writeBuffer(plan.ids, 0, Uint32Array.from(tokens));
    this.device.queue.writeBuffer(this.pos0, 0, new Uint32Array([pos0]));
    const encoder = this.device.createCommandEncoder({ label: 'decoder forward' });
    this.last = plan;
    const [logits] = await readBuffers(this.device, [plan.logits], (await recordSteps(encoder, plan.steps, 'decoder')) ?? encoder);
    return new Float32Array(logits);
  }

  /** The routing buffers layer `l`'s MLP wrote in the last forward (none for a dense layer). */
  routing(l: number): RoutingBuffers | undefined {
    return this.last?.routing[l];
  }

  destroy(): void {
    this.plans.destroy();
    this.last = undefined;
    for (const c of this.caches) for (const b of Object.values(c)) b.destroy();
    this.pos0.destroy();
    for (const l of this.w.layers) {
      l.attention.destroy();
      l.mlp.destroy();
    }
    for (const x of this.w.owned) x.destroy();
  }

  private build(T: number, rows: LogitRows): Plan {
    const c = this.config;
    const { hidden: H, vocab } = c;
    const outRows = rows === 'all' ? T : 1;
    checkActivation(this.device, outRows * vocab * 4, T);
    const ws = new Workspace(this.device);
    try {
      const ids = ws.buffer(T * 4, 'token ids');
      const h = ws.buffer(T * H * 4, 'residual');
      const n = ws.buffer(T * H * 4, 'normed');
      const y = ws.buffer(T * H * 4, 'sub-block out');
      const logits = ws.buffer(outRows * vocab * 4, 'logits');
      const norm = (weight: GPUBuffer, add?: GPUBuffer) => rmsNormKernel(ws, { h, add, weight, out: n }, T, H, c.rmsEps, c.residualScale);
      const steps: Step[] = [...embedKernel(ws, this.w.embed, { ids, x: h }, T, c.embeddingScale)];
      const routing = this.w.layers.map((layer, l) => {
        // The previous layer's MLP output (in y) joins the residual as this layer's norm runs.
        steps.push(norm(layer.inputNorm, l ? y : undefined));
        steps.push(...layer.attention.plan(ws, { x: n, out: y, tokens: T, pos0: this.pos0, cache: this.caches[l], positions: this.contextLength }));
        steps.push(norm(layer.postNorm, y));
        const mlp = layer.mlp.plan(ws, n, y, T);
        steps.push(...mlp.steps);
        return mlp.routing;
      });
      steps.push(norm(this.w.finalNorm, y));
      let head = n;
      if (rows === 'last') {
        const last = (head = ws.buffer(H * 4, 'last row'));
        steps.push({ outside: (encoder) => encoder.copyBufferToBuffer(n, (T - 1) * H * 4, last, 0, H * 4) });
      }
      steps.push(...linear(ws, this.w.lmHead, head, logits, outRows, c.logitsScale));
      return { ws, ids, logits, steps, routing };
    } catch (e) {
      ws.destroy();
      throw e;
    }
  }
}
