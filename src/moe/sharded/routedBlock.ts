// A MoE layer whose routed experts live on shard workers, as the decoder records it: the router
// kernel (the same one as the fused block, so the same choices) and the shared expert run on this
// device; then the encoder is submitted, the normed rows and the routing are read back, the
// scheduler runs the experts on the workers, and the combined rows are written to y.
import { routerKernel } from '../../kernels/router.js';
import { PlanCache } from '../../gpu/plans.js';
import { type Dispatch, readBuffers, uploadBuffer, Workspace } from '../../gpu/workspace.js';
import type { MLPBlock } from '../block.js';
import type { MoELayer, RoutingBuffers } from '../layer.js';
import type { Routing } from '../../kernels/router.js';

/** Runs one layer's routed experts on the workers: y [T, H] = shared + Σ_j weight · expert(x). */
export type RunExperts = (layer: number, x: Float32Array, ids: Uint32Array, weights: Float32Array, shared?: Float32Array) => Promise<Float32Array<ArrayBuffer>>;

interface Plan {
  ws: Workspace;
  x: GPUBuffer;
  ids: GPUBuffer;
  weights: GPUBuffer;
  counts: GPUBuffer;
  sharedY?: GPUBuffer;
  router: Dispatch;
}

/** Small stable ids for buffers, to key plans by the x they bind (the decoder has one per plan). */
const bufferIds = new WeakMap<GPUBuffer, number>();
let nextId = 0;
const idOf = (b: GPUBuffer): number => {
  if (!bufferIds.has(b)) bufferIds.set(b, nextId++);
  return bufferIds.get(b)!;
};

export class RoutedBlock implements MLPBlock {
  private readonly buffers: GPUBuffer[];
  private readonly plans = new PlanCache<Plan>(8);
  private last?: Plan;

  constructor(
    private readonly device: GPUDevice,
    private readonly layer: number,
    private readonly routingConfig: Routing,
    private readonly hidden: number,
    router: Float32Array,
    private readonly shared: MoELayer | undefined,
    private readonly run: RunExperts,
    /** adds the time spent waiting for this device's work and the readback */
    private readonly onReadback: (ms: number) => void,
  ) {
    const E = routingConfig.experts;
    this.buffers = [
      uploadBuffer(device, router, `layer ${layer} router`),
      uploadBuffer(device, new Float32Array(E), `layer ${layer} router bias`),
      uploadBuffer(device, new Float32Array(E), `layer ${layer} selection bias`),
      uploadBuffer(device, new Uint32Array(E).fill(1), `layer ${layer} expert mask`),
    ];
  }

  encode(encoder: GPUCommandEncoder, x: GPUBuffer, y: GPUBuffer, tokens: number): Promise<GPUCommandEncoder> {
    const plan = this.plans.get(`${tokens} ${idOf(x)}`, () => this.build(x, tokens));
    this.last = plan;
    encoder.clearBuffer(plan.counts);
    const pass = encoder.beginComputePass({ label: 'router' });
    plan.router(pass);
    pass.end();
    this.shared?.encode(encoder, x, plan.sharedY!, tokens);
    return this.finish(encoder, plan, y, tokens);
  }

  routing(): RoutingBuffers {
    if (!this.last) throw new Error('webmoe: routing() before any forward');
    const { ids, weights, counts } = this.last;
    return { ids, weights, counts };
  }

  destroy(): void {
    this.plans.destroy();
    for (const b of this.buffers) b.destroy();
    this.shared?.destroy();
  }

  private async finish(encoder: GPUCommandEncoder, plan: Plan, y: GPUBuffer, T: number): Promise<GPUCommandEncoder> {
    const H = this.hidden;
    const k = this.routingConfig.topK;
    const t0 = performance.now();
    const [x, ids, weights, shared] = await readBuffers(this.device, [plan.x, plan.ids, plan.weights, ...(plan.sharedY ? [plan.sharedY] : [])], encoder);
    this.onReadback(performance.now() - t0);
    const out = await this.run(this.layer, new Float32Array(x, 0, T * H), new Uint32Array(ids, 0, T * k), new Float32Array(weights, 0, T * k),
      shared && new Float32Array(shared, 0, T * H));
    this.device.queue.writeBuffer(y, 0, out);
    return this.device.createCommandEncoder({ label: 'decoder forward' });
  }

  private build(x: GPUBuffer, tokens: number): Plan {
    const { experts: E, topK: k } = this.routingConfig;
    const ws = new Workspace(this.device);
    const ids = ws.buffer(tokens * k * 4, 'ids');
    const weights = ws.buffer(tokens * k * 4, 'weights');
    const counts = ws.buffer(E * 4, 'counts');
    const [wr, bias, selBias, mask] = this.buffers;
    const router = routerKernel(ws, { x, wr, bias, selBias, mask, ids, weights, counts }, { ...this.routingConfig, tokens, hidden: this.hidden });
    const sharedY = this.shared && ws.buffer(tokens * this.hidden * 4, 'shared y');
    return { ws, x, ids, weights, counts, sharedY, router };
  }
}
