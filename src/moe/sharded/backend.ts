// The sharded expert backend of one MoE layer, as the block records it: the router (and the shared
// expert) ran on this device; here the encoder is submitted, the normed rows and the routing are read
// back, the scheduler runs the experts on the workers, and each slot's weighted output is written to
// ys for the block's combine.
import type { Step } from '../../gpu/steps.js';
import { readBuffers, type Workspace } from '../../gpu/workspace.js';
import type { ExpertBackend } from '../backend.js';
import type { RoutingBuffers } from '../router.js';

/** Runs one layer's routed experts on the workers: ys [T·k, H], each slot's expert output × its weight. */
export type RunExperts = (layer: number, x: Float32Array, ids: Uint32Array, weights: Float32Array) => Promise<Float32Array<ArrayBuffer>>;

export class ShardedExperts implements ExpertBackend {
  constructor(
    private readonly device: GPUDevice,
    private readonly layer: number,
    private readonly hidden: number,
    private readonly run: RunExperts,
    /** adds the time spent waiting for this device's work and the readback */
    private readonly onReadback: (ms: number) => void,
  ) {}

  plan(_ws: Workspace, x: GPUBuffer, routed: RoutingBuffers, tokens: number, ys: GPUBuffer): Step[] {
    const slots = tokens * routed.topK;
    return [{
      outside: async (encoder) => {
        const t0 = performance.now();
        const [xb, ids, weights] = await readBuffers(this.device, [x, routed.ids, routed.weights], encoder);
        this.onReadback(performance.now() - t0);
        const out = await this.run(this.layer, new Float32Array(xb, 0, tokens * this.hidden), new Uint32Array(ids, 0, slots),
          new Float32Array(weights, 0, slots));
        this.device.queue.writeBuffer(ys, 0, out);
        return this.device.createCommandEncoder({ label: 'decoder forward' });
      },
    }];
  }

  /** Only rows and routing live here: the experts' buffers are the workers'. */
  needs(tokens: number, topK: number): { bytes: number; grid: number } {
    return { bytes: tokens * topK * this.hidden * 4, grid: 1 };
  }

  /** The workers' devices pick their own tiles. */
  async tune(): Promise<[]> {
    return [];
  }

  /** The workers are the scheduler's to end. */
  destroy(): void {}
}
