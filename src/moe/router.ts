// A MoE layer's router on the GPU: its weights [E, H], biases and expert mask, and the routing kernel
// that turns rows of x into each token's k experts and weights (then the capacity kernel, when a
// capacity factor binds). One component for every expert backend, so the fused and the sharded (and
// any later) backends route alike, and every routing control reaches them all.
import { capacityKernel, capacityScratchBytes } from '../kernels/capacity.js';
import { type Routing, routerKernel } from '../kernels/router.js';
import { type Dispatch, uploadBuffer, type Workspace } from '../gpu/workspace.js';
import { expertCapacity } from './spec.js';

export interface RouterWeights {
  /** [E, H] */
  router: Float32Array;
  /** [E] added to the logits */
  routerBias?: Float32Array;
  /** [E] added to the scores for the choice only, never to the weights (e_score_correction_bias) */
  selectionBias?: Float32Array;
  /** [E]: a false/0 expert is never chosen (and leaves the softmax). Default: all allowed. */
  mask?: ArrayLike<boolean | number>;
}

/** The id of an empty routing slot. */
export const NO_EXPERT = 0xffffffff;

/**
 * One call's routing: each token's k slots, an expert (best first; NONE = 0xffffffff where top-p
 * or capacity left the slot empty: no expert runs for it) and its weight, and tokens per expert.
 */
export interface RoutingBuffers {
  /** [T,k] u32 */
  ids: GPUBuffer;
  /** [T,k] f32 (0 in empty slots) */
  weights: GPUBuffer;
  /** [E+1] u32: pairs per expert, then the pairs capacity dropped */
  counts: GPUBuffer;
  /** k, the slots per token of this call */
  topK: number;
}

export class Router {
  private readonly weights: GPUBuffer;
  /** [3E] f32: the logit bias, the selection bias, the mask (1: may be chosen), one binding for the three */
  private readonly table: GPUBuffer;
  /** the model's selection bias [E] (zeros for none), which steer() adds to */
  private readonly selection: Float32Array;
  /**
   * [E+3] u32, summed over the calls since resetTotals(): pairs per expert, pairs dropped by
   * capacity, tokens, and experts run (one per expert a call gave a pair: the expert weights it
   * read). The routing kernel (or the capacity kernel, when it runs) adds each call's.
   */
  readonly totals: GPUBuffer;

  constructor(private readonly device: GPUDevice, readonly routing: Routing, readonly hidden: number, w: RouterWeights, label: string) {
    const E = routing.experts;
    this.weights = uploadBuffer(device, w.router, `${label} router`);
    const table = new Float32Array(3 * E);
    if (w.routerBias) table.set(w.routerBias);
    if (w.selectionBias) table.set(w.selectionBias, E);
    table.set(maskValues(w.mask, E), 2 * E);
    this.selection = table.slice(E, 2 * E);
    this.table = uploadBuffer(device, table, `${label} router biases and mask`);
    this.totals = uploadBuffer(device, new Uint32Array(E + 3), `${label} routing totals`);
  }

  /** Replaces the expert mask for the next calls (checked by the caller). */
  setMask(mask: ArrayLike<boolean | number>): void {
    const E = this.routing.experts;
    this.device.queue.writeBuffer(this.table, 2 * E * 4, maskValues(mask, E));
  }

  /** Zeroes the totals (from the queue: before the next submitted call). */
  resetTotals(): void {
    this.device.queue.writeBuffer(this.totals, 0, new Uint32Array(this.routing.experts + 3));
  }

  /**
   * Adds `extra` [E] to the selection scores (over the model's selection bias) from the next calls on:
   * it shifts the choice, never the weights (the expert cache prefers resident experts so).
   */
  steer(extra: ArrayLike<number>): void {
    this.device.queue.writeBuffer(this.table, this.selection.byteLength, this.selection.map((b, e) => b + extra[e]));
  }

  /**
   * The routing of `tokens` rows of x under `r` (the router's own routing with a call's controls):
   * its buffers, and the launches that write them (clear `counts` first).
   */
  plan(ws: Workspace, x: GPUBuffer, tokens: number, r: Routing = this.routing): RoutingBuffers & { route: Dispatch[] } {
    const { experts: E, topK: k } = r;
    const ids = ws.buffer(tokens * k * 4, 'ids');
    const weights = ws.buffer(tokens * k * 4, 'weights');
    const counts = ws.buffer((E + 1) * 4, 'counts');
    // A capacity of T or more never binds: a token holds an expert once.
    const capacity = tokens > 1 ? expertCapacity(r, tokens) : Infinity;
    const capped = capacity < tokens;
    const candRows = capped ? (r.capacityNext ? E : k) : 0;
    const cand = ws.buffer(Math.max(8, tokens * candRows * 8), 'candidates');
    const route = [routerKernel(ws, { x, wr: this.weights, table: this.table, ids, weights, counts, cand, totals: this.totals }, {
      ...r,
      tokens,
      hidden: this.hidden,
      candRows,
      tally: !capped,
    })];
    if (capped) {
      const scratch = ws.buffer(capacityScratchBytes(tokens, k), 'capacity scratch');
      const renorm = r.scoring === 2 || r.normTopK;
      route.push(capacityKernel(ws, { cand, ids, weights, counts, scratch, totals: this.totals }, {
        tokens,
        topK: k,
        candRows,
        experts: E,
        capacity,
        next: r.capacityNext,
        renorm,
        routedScaling: r.routedScaling,
      }));
    }
    return { ids, weights, counts, topK: k, route };
  }

  destroy(): void {
    for (const b of [this.weights, this.table, this.totals]) b.destroy();
  }
}

function maskValues(mask: ArrayLike<boolean | number> | undefined, experts: number): Float32Array<ArrayBuffer> {
  return Float32Array.from({ length: experts }, (_, e) => (mask ? (mask[e] ? 1 : 0) : 1));
}
