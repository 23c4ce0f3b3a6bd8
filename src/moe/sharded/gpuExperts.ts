// A GPU shard's expert FFNs on rows the coordinator sends, already grouped by expert: the fused
// backend over the shard's local experts with k = 1 (each row its own slot, its routing weight applied
// by the down matrix). The rows' experts and per-expert counts come from the host; the GEMM path
// sorts them on the GPU, as the MoE block does.
import { PlanCache } from '../../gpu/plans.js';
import { recordSteps, type Step } from '../../gpu/steps.js';
import { readBuffers, Workspace } from '../../gpu/workspace.js';
import type { FusedExperts } from '../fused.js';

interface Plan {
  ws: Workspace;
  x: GPUBuffer;
  ids: GPUBuffer;
  weights: GPUBuffer;
  counts: GPUBuffer;
  ys: GPUBuffer;
  steps: Step[];
}

export class GpuExperts {
  private readonly plans: PlanCache<Plan>;

  constructor(private readonly device: GPUDevice, private readonly layers: Map<number, FusedExperts>, private readonly hidden: number) {
    this.plans = new PlanCache<Plan>(2 * layers.size + 8);
  }

  /** y [R, H] = weights · expert(x) of each row; ids are local expert indices, grouped ascending. */
  async run(layer: number, x: Float32Array<ArrayBuffer>, ids: Uint32Array<ArrayBuffer>,
    weights: Float32Array<ArrayBuffer>): Promise<Float32Array<ArrayBuffer>>
  {
    const R = ids.length;
    if (R === 0) return new Float32Array(0);
    const experts = this.layers.get(layer)!;
    const plan = this.plans.get(`${layer} ${R}`, () => this.build(experts, R));
    const counts = new Uint32Array(experts.shape.experts);
    for (const e of ids) counts[e]++;
    const q = this.device.queue;
    q.writeBuffer(plan.x, 0, x);
    q.writeBuffer(plan.ids, 0, ids);
    q.writeBuffer(plan.weights, 0, weights);
    q.writeBuffer(plan.counts, 0, counts);
    const encoder = this.device.createCommandEncoder({ label: 'shard experts' });
    recordSteps(encoder, plan.steps, 'shard experts');
    const [y] = await readBuffers(this.device, [plan.ys], encoder);
    return new Float32Array(y, 0, R * this.hidden);
  }

  /** Frees the plans and the layers' experts. */
  destroy(): void {
    this.plans.destroy();
    for (const e of this.layers.values()) e.destroy();
  }

  private build(experts: FusedExperts, R: number): Plan {
    const ws = new Workspace(this.device);
    const routed = { ids: ws.buffer(R * 4, 'shard ids'), weights: ws.buffer(R * 4, 'shard weights'),
      counts: ws.buffer(experts.shape.experts * 4, 'shard counts'), topK: 1 };
    const x = ws.buffer(R * this.hidden * 4, 'shard x');
    const ys = ws.buffer(R * this.hidden * 4, 'shard ys');
    return { ws, x, ...routed, ys, steps: experts.plan(ws, x, routed, R, ys) };
  }
}
