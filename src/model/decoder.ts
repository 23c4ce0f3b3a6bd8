// The decoder forward shared by every family: embedding → per layer (RMSNorm → attention block →
// residual + RMSNorm → MLP block → residual) → final RMSNorm → lm_head. The blocks are the family's
// (blocks/); all of it is recorded into one command encoder and submitted once, and only the logits
// are read back (or, by forwardBatch, only what a reader of them computes on the GPU: a sampled
// token). (An MLP block may leave the GPU — the expert-parallel scheduler's — and the forward goes on
// in the encoder it resolves to.) The KV cache holds `slots` sequences, each in its own region; one
// forward (forwardBatch) may carry tokens of several, each at its own positions, so that their
// decode steps and prefill chunks share the weights' reads.
import { embedKernel } from '../kernels/embed.js';
import type { SlotRows } from '../kernels/combine.js';
import { rmsNormKernel } from '../kernels/rmsnorm.js';
import { storageBindingLimit } from '../gpu/limits.js';
import { PlanCache } from '../gpu/plans.js';
import { recordSteps, type Step } from '../gpu/steps.js';
import { mapRead, stageRead, Workspace } from '../gpu/workspace.js';
import { MoELayer } from '../moe/layer.js';
import type { RoutingBuffers } from '../moe/router.js';
import { MoEInputError, type RoutingControls } from '../moe/spec.js';
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

/** One sequence's tokens in a forward: its KV slot, and the position of its first token. */
export interface BatchPart {
  slot: number;
  pos0: number;
  tokens: ArrayLike<number>;
}

interface Plan {
  ws: Workspace;
  ids: GPUBuffer;
  /** [T] (position, slot) of each token, read by the attention kernels */
  at: GPUBuffer;
  logits: GPUBuffer;
  /** the row of each part's last token, set before each record: the 'last' rows gather them */
  ends: number[];
  steps: Step[];
  /** per layer, the routing its MLP block writes (none for a dense MLP) */
  routing: (RoutingBuffers | undefined)[];
}

/**
 * What comes back of a forward: it records what it needs after the forward, in the forward's encoder
 * (submitted next), then reads its result. The decoder's own reads the logits rows back whole; the
 * GPU sampler (gpuSampling.ts) samples on the GPU and reads the token (a sampler per row of a batch).
 */
export interface BatchReader<T> {
  /** `logits`: the forward's rows of logits, [rows, vocab] f32 (a batch's: row i is part i's last token) */
  record(encoder: GPUCommandEncoder, logits: GPUBuffer, rows: number): void;
  /** After the submit: what it read. */
  read(): Promise<T>;
}

/** Where the time of the forwards went while a profile is set (Decoder.profile), summed over them. */
export interface ForwardProfile {
  forwards: number;
  /** submit → the queue's work done (the forward and its reader's GPU work) */
  gpuMs: number;
  /** work done → the reader's result in hand (mapping the readback) */
  readbackMs: number;
}

/**
 * Plans kept, per (token count, parts, logit rows, …): decode reuses one, each prompt length makes one;
 * sequences decoded together add one per batch size and per mix of prompt chunks and decode steps.
 */
const PLANS_KEPT = 12;

/**
 * Positions the cache of a sliding window W holds: a ring of 2W (the whole context if that is shorter).
 * A forward writes every key of its tokens before any query reads, so a ring of R keeps what T tokens
 * read while T ≤ R − W + 1: longer forwards run in pieces of W + 1 tokens.
 */
export const ringPositions = (window: number, contextLength: number): number => Math.min(contextLength, 2 * window);

/** The most tokens one piece of a forward may run over a layer's cache of `positions`. */
const pieceTokens = (window: number | undefined, positions: number, contextLength: number): number =>
  window === undefined || positions === contextLength ? contextLength : positions - window + 1;

export class Decoder {
  private readonly caches: Record<string, GPUBuffer>[];
  /** per layer, the positions its cache holds: the context, or a sliding window's ring */
  private readonly positions: number[];
  /** The most tokens one piece of a forward runs, so that every ring keeps the keys its queries read. */
  readonly maxTokens: number;
  // Reused by every decode step of one sequence: a token allocates nothing.
  private readonly oneAt = new Uint32Array(2);
  private readonly oneId = new Uint32Array(1);
  private readonly plans = new PlanCache<Plan>(PLANS_KEPT);
  private last?: Plan;
  private destroyed = false;
  /**
   * Set: each forward after it waits for the queue before its readback and adds its times here (a
   * profile of where a step's time goes; the wait costs a little, so only while profiling).
   */
  profile?: ForwardProfile;
  /** The MoE layers' routing controls, which the plans are made with. */
  private routingKey = '';

  constructor(
    private readonly device: GPUDevice,
    readonly config: Readonly<ModelConfig>,
    private readonly w: DecoderWeights,
    /** positions the KV cache holds, per sequence */
    readonly contextLength: number,
    /** sequences the KV cache holds, each in its own region (BatchPart.slot) */
    readonly slots = 1,
  ) {
    if (!(Number.isInteger(slots) && slots >= 1)) throw new DecoderInputError(`webmoe: slots (maxSequences) must be a positive integer, got ${slots}`);
    const limit = storageBindingLimit(device);
    this.positions = w.layers.map(({ attention: { window } }) => (window === undefined ? contextLength : ringPositions(window, contextLength)));
    this.maxTokens = Math.min(...w.layers.map(({ attention: { window } }, l) => pieceTokens(window, this.positions[l], contextLength)));
    // every layer checked before any buffer is made, so that a refusal leaves nothing behind
    this.positions.forEach((positions, l) => {
      for (const c of w.layers[l].attention.cache) {
        const bytes = c.bytesPerPosition * positions * slots;
        if (bytes > limit) {
          const of = slots > 1 ? ` × ${slots} sequences` : '';
          const use = slots > 1 ? 'use a shorter contextLength or fewer maxSequences' : 'use a shorter contextLength';
          throw new DecoderInputError(
            `webmoe: a layer's KV cache for ${positions} positions${of} needs ${bytes} bytes per binding, over the storage binding limit ${limit}: ${use}`,
          );
        }
      }
    });
    this.caches = w.layers.map(({ attention }, l) =>
      Object.fromEntries(attention.cache.map((c) => {
        const size = c.bytesPerPosition * this.positions[l] * slots;
        return [c.name, device.createBuffer({ label: `layer ${l} ${c.name} cache`, size, usage: GPUBufferUsage.STORAGE })];
      }))
    );
  }

  /**
   * Runs `tokens` of the sequence in `slot` at positions pos0, pos0 + 1, … (its cache region must hold
   * positions before pos0) and returns their logits, [rows, vocab] row-major. More than `maxTokens`
   * tokens run in pieces; `signal` stops the forward between pieces.
   */
  async forward(tokens: ArrayLike<number>, pos0: number, rows: LogitRows, signal?: AbortSignal, slot = 0): Promise<Float32Array> {
    this.checkSlot(slot, 'forward()');
    this.checkTokens(tokens, pos0, 'forward()');
    const T = tokens.length;
    const pieces: Float32Array[] = [];
    for (let at = 0; at < T; at += this.maxTokens) {
      const n = Math.min(this.maxTokens, T - at);
      const piece = n === T ? tokens : (Array.prototype.slice.call(tokens, at, at + n) as number[]);
      pieces.push(await this.run([{ slot, pos0: pos0 + at, tokens: piece }], rows, this.readBack(), signal));
      signal?.throwIfAborted();
    }
    if (pieces.length === 1 || rows === 'last') return pieces[pieces.length - 1];
    const all = new Float32Array(T * this.config.vocab);
    pieces.reduce((at, p) => (all.set(p, at), at + p.length), 0);
    return all;
  }

  /**
   * One forward (one plan, one submit) over the tokens of several sequences, each part in its own
   * slot at its own positions (a prefill chunk of one beside decode steps of others). The logits stay
   * on the GPU as rows [parts, vocab], row i part i's last token's, for `reader`. A part may not run
   * over maxTokens tokens (no pieces here: the caller chunks).
   */
  async forwardBatch<T>(parts: readonly BatchPart[], reader: BatchReader<T>, signal?: AbortSignal): Promise<T> {
    if (parts.length === 0) throw new DecoderInputError('webmoe: forwardBatch() needs at least one part');
    const seen = new Map<number, number>();
    parts.forEach((part, i) => {
      const who = `forwardBatch part ${i}`;
      this.checkSlot(part.slot, who);
      const other = seen.get(part.slot);
      if (other !== undefined) throw new DecoderInputError(`webmoe: ${who}: slot ${part.slot} is part ${other}'s too: one part per sequence`);
      seen.set(part.slot, i);
      this.checkTokens(part.tokens, part.pos0, who);
      if (part.tokens.length > this.maxTokens) {
        throw new DecoderInputError(
          `webmoe: ${who}: ${part.tokens.length} tokens, over maxTokens ${this.maxTokens} (what a sliding window's ring keeps at once): run them over several forwards`,
        );
      }
    });
    signal?.throwIfAborted();
    return this.run(parts, 'last', reader, signal);
  }

  private checkSlot(slot: number, who: string): void {
    if (!(Number.isInteger(slot) && slot >= 0 && slot < this.slots)) {
      throw new DecoderInputError(`webmoe: ${who}: slot ${slot} is outside 0…${this.slots - 1} (the decoder's maxSequences)`);
    }
  }

  /** Checks `tokens` of a sequence at pos0 …: some, within the context, in the vocabulary. */
  private checkTokens(tokens: ArrayLike<number>, pos0: number, who: string): void {
    const T = tokens.length;
    const { vocab } = this.config;
    if (T === 0) throw new DecoderInputError(`webmoe: ${who} needs at least one token`);
    if (!(Number.isInteger(pos0) && pos0 >= 0)) throw new DecoderInputError(`webmoe: ${who}: pos0 ${pos0} is not a position`);
    if (pos0 + T > this.contextLength) {
      throw new DecoderInputError(`webmoe: ${who}: positions ${pos0}…${pos0 + T - 1} exceed the context length ${this.contextLength}`);
    }
    for (let i = 0; i < T; i++) {
      const id = tokens[i];
      if (!Number.isInteger(id) || id < 0 || id >= vocab) {
        throw new DecoderInputError(`webmoe: ${who}: token ${i} is ${id}, outside the vocabulary 0…${vocab - 1}`);
      }
    }
  }

  /**
   * Whether a forward at position `length` finds every key it reads in the cache once positions up to
   * `written − 1` have been written (a sliding window's ring has overwritten the older ones).
   */
  resumes(length: number, written: number): boolean {
    return this.w.layers.every(({ attention: { window } }, l) =>
      window === undefined || length === 0 || Math.max(0, length - window + 1) >= written - this.positions[l]
    );
  }

  /** One forward over checked parts: their tokens in order, rows 'all' (one part) or each part's last. */
  private async run<T>(parts: readonly BatchPart[], rows: LogitRows, read: BatchReader<T>, signal?: AbortSignal): Promise<T> {
    this.checkAlive();
    const T = parts.reduce((n, p) => n + p.tokens.length, 0);
    // Every token its sequence's only one: the fused decode attention (no two tokens share a slot).
    const decode = T === parts.length;
    const plan = this.plans.get(`${T} ${parts.length} ${rows} ${decode} ${this.routingKey}`, () => this.build(T, parts.length, rows, decode));
    const ids = T === 1 ? this.oneId : new Uint32Array(T);
    const at = T === 1 ? this.oneAt : new Uint32Array(2 * T);
    let t = 0;
    parts.forEach((part, i) => {
      for (let k = 0; k < part.tokens.length; k++, t++) {
        ids[t] = part.tokens[k];
        at[2 * t] = part.pos0 + k;
        at[2 * t + 1] = part.slot;
      }
      plan.ends[i] = t - 1;
    });
    this.device.queue.writeBuffer(plan.ids, 0, ids);
    this.device.queue.writeBuffer(plan.at, 0, at);
    const encoder = this.device.createCommandEncoder({ label: 'decoder forward' });
    this.last = plan;
    const recorded = (await recordSteps(encoder, plan.steps, 'decoder', signal)) ?? encoder;
    // An expert-parallel step awaits its workers: the call may be aborted or the decoder destroyed since.
    signal?.throwIfAborted();
    this.checkAlive();
    read.record(recorded, plan.logits, rows === 'all' ? T : parts.length);
    this.device.queue.submit([recorded.finish()]);
    const profile = this.profile;
    if (!profile) return read.read();
    const t0 = performance.now();
    await this.device.queue.onSubmittedWorkDone();
    const t1 = performance.now();
    const out = await read.read();
    profile.forwards++;
    profile.gpuMs += t1 - t0;
    profile.readbackMs += performance.now() - t1;
    return out;
  }

  /** Reads the logits rows back whole. */
  private readBack(): BatchReader<Float32Array> {
    let staging: GPUBuffer;
    return {
      record: (encoder, logits) => void (staging = stageRead(this.device, encoder, logits)),
      read: async () => new Float32Array(await mapRead(staging)),
    };
  }

  /** The MoE block of each sparse layer, by layer (routing controls, masks, totals). */
  moeLayers(): Map<number, MoELayer> {
    return new Map(this.w.layers.flatMap(({ mlp }, l) => (this.config.sparse[l] && mlp instanceof MoELayer ? [[l, mlp] as const] : [])));
  }

  /**
   * The routing controls of the next forwards on every MoE layer (over each layer's config), and
   * the expert masks of the layers in `masks`; throws MoEInputError naming a bad control (with the
   * layer for a mask), leaving everything as it was.
   */
  setRouting(controls: RoutingControls, masks: ReadonlyMap<number, ArrayLike<boolean | number>> = new Map()): void {
    const layers = this.moeLayers();
    for (const l of masks.keys()) {
      if (!layers.has(l)) throw new MoEInputError(`webmoe: expertMask of layer ${l}: not a MoE layer (MoE layers: ${[...layers.keys()].join(', ')})`);
    }
    const before = [...layers].map(([l, m]) => [l, m.controls(), m.expertMask()] as const);
    try {
      for (const [l, m] of layers) {
        try {
          m.setControls(controls, masks.get(l));
        } catch (e) {
          throw masks.has(l) && e instanceof MoEInputError ? new MoEInputError(e.message.replace('webmoe: ', `webmoe: layer ${l}: `)) : e;
        }
      }
    } catch (e) {
      for (const [l, c, mask] of before) layers.get(l)!.setControls(c, mask);
      throw e;
    }
    this.routingKey = [...layers.values()].map((m) => m.controlsKey()).join(';');
  }

  /**
   * What the KV cache's keys and values depend on besides the tokens: every MoE layer's routing
   * (controls and mask). Undefined while a capacity factor makes them depend on how the tokens were
   * batched too, so that no cache is reused across calls then.
   */
  cacheKey(): string | undefined {
    const layers = [...this.moeLayers().values()];
    if (layers.some((m) => m.routingNow().capacityFactor > 0)) return undefined;
    return layers.map((m) => `${m.controlsKey()} ${m.expertMask().join('')}`).join(';');
  }

  /** The routing buffers layer `l`'s MLP wrote in the last forward (none for a dense layer). */
  routing(l: number): RoutingBuffers | undefined {
    return this.last?.routing[l];
  }

  /** Frees the decoder's GPU memory; a forward after it throws (it would make buffers anew and leak them). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.plans.destroy();
    this.last = undefined;
    for (const c of this.caches) for (const b of Object.values(c)) b.destroy();
    for (const l of this.w.layers) {
      l.attention.destroy();
      l.mlp.destroy();
    }
    for (const x of this.w.owned) x.destroy();
  }

  private checkAlive(): void {
    if (this.destroyed) throw new DecoderInputError('webmoe: forward() on a destroyed decoder');
  }

  /** The plan of T tokens in `parts` parts (`decode`: one token each), with `rows` of logits. */
  private build(T: number, parts: number, rows: LogitRows, decode: boolean): Plan {
    const c = this.config;
    const { hidden: H, vocab } = c;
    const outRows = rows === 'all' ? T : parts;
    checkActivation(this.device, outRows * vocab * 4, T);
    const ws = new Workspace(this.device);
    try {
      const ids = ws.buffer(T * 4, 'token ids');
      const at = ws.buffer(T * 8, 'token positions and slots');
      const ends = new Array<number>(parts).fill(0);
      const h = ws.buffer(T * H * 4, 'residual');
      const n = ws.buffer(T * H * 4, 'normed');
      const y = ws.buffer(T * H * 4, 'sub-block out');
      const logits = ws.buffer(outRows * vocab * 4, 'logits');
      const norm = (weight: GPUBuffer, add?: SlotRows) => rmsNormKernel(ws, { h, add, weight, out: n }, T, H, c.rmsEps, c.residualScale);
      const steps: Step[] = [...embedKernel(ws, this.w.embed, { ids, x: h }, T, c.embeddingScale)];
      let mlpOut: SlotRows | undefined;
      const routing = this.w.layers.map((layer, l) => {
        // The previous layer's MLP output (its rows, summed there) joins the residual as this layer's norm runs.
        steps.push(norm(layer.inputNorm, mlpOut));
        steps.push(...layer.mlp.ahead?.(ws, n, T) ?? []);
        steps.push(...layer.attention.plan(ws, { x: n, out: y, tokens: T, at, decode, cache: this.caches[l], positions: this.positions[l] }));
        steps.push(norm(layer.postNorm, { ys: y, topK: 1 }));
        const mlp = layer.mlp.planRows(ws, n, T);
        steps.push(...mlp.steps);
        mlpOut = mlp.rows;
        return mlp.routing;
      });
      steps.push(norm(this.w.finalNorm, mlpOut));
      let head = n;
      // Each part's last row (the current parts', set at each run); every row is one already when each part is one token.
      if (rows === 'last' && !decode) {
        const last = (head = ws.buffer(parts * H * 4, 'last rows'));
        steps.push({ outside: (encoder) => ends.forEach((t, i) => encoder.copyBufferToBuffer(n, t * H * 4, last, i * H * 4, H * 4)) });
      }
      steps.push(...linear(ws, this.w.lmHead, head, logits, outRows, c.logitsScale));
      return { ws, ids, at, logits, ends, steps, routing };
    } catch (e) {
      ws.destroy();
      throw e;
    }
  }
}
