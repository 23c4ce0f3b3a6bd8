// A MoE layer's router on the GPU: its weights [E, H], biases and expert mask, and the routing kernel
// that turns rows of x into each token's k experts and weights. One component for every expert
// backend, so the fused and the sharded (and any later) backends route alike.
import { type Routing, routerKernel } from '../kernels/router.js';
import { type Dispatch, uploadBuffer, type Workspace } from '../gpu/workspace.js';

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

/** One call's routing: each token's k experts (best first) and weights, and tokens per expert. */
export interface RoutingBuffers {
  /** [T,k] u32 */
  ids: GPUBuffer;
  /** [T,k] f32 */
  weights: GPUBuffer;
  /** [E] u32 */
  counts: GPUBuffer;
}

export class Router {
  private readonly weights: GPUBuffer;
  private readonly bias: GPUBuffer;
  private readonly selBias: GPUBuffer;
  private readonly mask: GPUBuffer;

  constructor(private readonly device: GPUDevice, readonly routing: Routing, readonly hidden: number, w: RouterWeights, label: string) {
    const E = routing.experts;
    this.weights = uploadBuffer(device, w.router, `${label} router`);
    this.bias = uploadBuffer(device, w.routerBias ?? new Float32Array(E), `${label} router bias`);
    this.selBias = uploadBuffer(device, w.selectionBias ?? new Float32Array(E), `${label} selection bias`);
    this.mask = uploadBuffer(device, maskWords(w.mask, E), `${label} expert mask`);
  }

  /** Replaces the expert mask for the next calls (checked by the caller). */
  setMask(mask: ArrayLike<boolean | number>): void {
    this.device.queue.writeBuffer(this.mask, 0, maskWords(mask, this.routing.experts));
  }

  /** The routing of `tokens` rows of x: its buffers, and the launch that writes them (clear `counts` first). */
  plan(ws: Workspace, x: GPUBuffer, tokens: number): RoutingBuffers & { route: Dispatch } {
    const { experts: E, topK: k } = this.routing;
    const ids = ws.buffer(tokens * k * 4, 'ids');
    const weights = ws.buffer(tokens * k * 4, 'weights');
    const counts = ws.buffer(E * 4, 'counts');
    const route = routerKernel(ws, {
      x,
      wr: this.weights,
      bias: this.bias,
      selBias: this.selBias,
      mask: this.mask,
      ids,
      weights,
      counts,
    }, { ...this.routing, tokens, hidden: this.hidden });
    return { ids, weights, counts, route };
  }

  destroy(): void {
    for (const b of [this.weights, this.bias, this.selBias, this.mask]) b.destroy();
  }
}

function maskWords(mask: ArrayLike<boolean | number> | undefined, experts: number): Uint32Array<ArrayBuffer> {
  return Uint32Array.from({ length: experts }, (_, e) => (mask ? (mask[e] ? 1 : 0) : 1));
}
