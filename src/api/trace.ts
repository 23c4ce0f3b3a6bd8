// Routing traces: after a forward step, each MoE layer's chosen experts and weights per token, read
// back (only when asked: it costs a readback), and the experts' load summed over the call.
import { readBuffers } from '../gpu/workspace.js';
import { type ModelConfig, sparseLayers } from '../model/config.js';
import type { Decoder } from '../model/decoder.js';
import { NO_EXPERT } from '../moe/router.js';

/** Routing of one forward step: per MoE layer, per token, the chosen experts and their weights (as many as ran). */
export interface RoutingStep {
  /** absolute positions of the step's tokens */
  positions: number[];
  layers: { layer: number; ids: number[][]; weights: number[][] }[];
}

export class RoutingTrace {
  private readonly load = new Map<number, number[]>();

  constructor(private readonly device: GPUDevice, private readonly decoder: Decoder, private readonly config: Readonly<ModelConfig>) {}

  /** The routing of the last forward, which ran `tokens` tokens from position `pos0`. */
  async step(pos0: number, tokens: number): Promise<RoutingStep> {
    const sparse = sparseLayers(this.config);
    const buffers = sparse.flatMap((l) => {
      const r = this.decoder.routing(l)!;
      return [r.ids, r.weights, r.counts];
    });
    const data = await readBuffers(this.device, buffers);
    // Each token's experts and weights, its empty slots (top-p, capacity) left out.
    const rows = (ids: Uint32Array, a: Uint32Array | Float32Array, k: number) =>
      Array.from({ length: tokens }, (_, t) => Array.from(a.subarray(t * k, (t + 1) * k)).filter((_, j) => ids[t * k + j] !== NO_EXPERT));
    return {
      positions: Array.from({ length: tokens }, (_, t) => pos0 + t),
      layers: sparse.map((layer, i) => {
        const k = this.decoder.routing(layer)!.topK;
        const ids = new Uint32Array(data[3 * i]);
        const counts = new Uint32Array(data[3 * i + 2], 0, this.config.experts);
        const total = this.load.get(layer) ?? new Array<number>(counts.length).fill(0);
        counts.forEach((n, e) => (total[e] += n));
        this.load.set(layer, total);
        return { layer, ids: rows(ids, ids, k), weights: rows(ids, new Float32Array(data[3 * i + 1]), k) };
      }),
    };
  }

  /** Tokens routed to each expert of each MoE layer over the steps traced. */
  expertLoad(): { layer: number; counts: number[] }[] {
    return [...this.load].map(([layer, counts]) => ({ layer, counts }));
  }
}
