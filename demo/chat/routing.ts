// The routing of one reply, from the trace chunks of Engine.generate: each position's experts and
// weights per MoE layer (for the hover), and the tokens each layer sent to each expert (the heatmap).
import type { RoutingStep } from '../../src/index.js';

export interface TokenRouting {
  layer: number;
  ids: number[];
  weights: number[];
}

export class RoutingLog {
  /** tokens routed to each expert, per MoE layer */
  readonly load = new Map<number, number[]>();
  private readonly byPosition = new Map<number, TokenRouting[]>();

  constructor(readonly experts: number) {}

  add(steps: RoutingStep[] | undefined): void {
    for (const step of steps ?? []) {
      step.positions.forEach((pos, t) => {
        const layers = step.layers.map(({ layer, ids, weights }) => ({ layer, ids: ids[t], weights: weights[t] }));
        this.byPosition.set(pos, layers);
        for (const { layer, ids } of layers) {
          const counts = this.load.get(layer) ?? new Array<number>(this.experts).fill(0);
          for (const e of ids) counts[e]++;
          this.load.set(layer, counts);
        }
      });
    }
  }

  /** undefined when the position was never fed through the model (the reply's last token). */
  at(position: number): TokenRouting[] | undefined {
    return this.byPosition.get(position);
  }
}
