// A GPU shard's expert FFNs on rows the coordinator sends, already grouped by expert: the MoE
// block's expert kernels with k = 1 (each row is its own slot, its routing weight applied in the
// down GEMM's epilogue). The rows arrive sorted, so the block → expert map is built on the CPU
// instead of by the router and alignment kernels.
import { blockRowsFor, maxBlocks } from '../../kernels/align.js';
import { groupedGemm, indexedGemv } from '../../kernels/expertMatmul.js';
import { PlanCache } from '../../gpu/plans.js';
import { type Dispatch, readBuffers, Workspace } from '../../gpu/workspace.js';
import type { ExpertMatrix } from '../../weights/matrix.js';

const NONE = 0xffffffff;
/** Up to this many rows take the GEMV path, as in the MoE block. */
const GEMV_MAX_ROWS = 4;

export interface ShardLayer {
  gateUp: ExpertMatrix;
  down: ExpertMatrix;
}

interface Plan {
  ws: Workspace;
  x: GPUBuffer;
  ids: GPUBuffer;
  weights: GPUBuffer;
  ys: GPUBuffer;
  /** GEMM path: sorted rows and block experts, written per call; rows per block */
  sorted?: GPUBuffer;
  blockExpert?: GPUBuffer;
  rows: number;
  blocks: number;
  dispatches: Dispatch[];
}

export class GpuExperts {
  private readonly plans: PlanCache<Plan>;

  constructor(private readonly device: GPUDevice, private readonly layers: Map<number, ShardLayer>, private readonly hidden: number) {
    this.plans = new PlanCache<Plan>(2 * layers.size + 8);
  }

  /** y [R, H] = weights · expert(x) of each row; ids are local expert indices, grouped ascending. */
  async run(layer: number, x: Float32Array<ArrayBuffer>, ids: Uint32Array<ArrayBuffer>, weights: Float32Array<ArrayBuffer>): Promise<Float32Array<ArrayBuffer>> {
    const R = ids.length;
    const H = this.hidden;
    if (R === 0) return new Float32Array(0);
    const plan = this.plans.get(`${layer} ${R}`, () => this.build(layer, R));
    const q = this.device.queue;
    q.writeBuffer(plan.x, 0, x);
    q.writeBuffer(plan.ids, 0, ids);
    q.writeBuffer(plan.weights, 0, weights);
    if (plan.sorted) {
      const { sorted, blockExpert } = alignOnHost(ids, plan.rows, plan.blocks);
      q.writeBuffer(plan.sorted, 0, sorted);
      q.writeBuffer(plan.blockExpert!, 0, blockExpert);
    }
    const encoder = this.device.createCommandEncoder({ label: 'shard experts' });
    const pass = encoder.beginComputePass({ label: 'shard experts' });
    for (const d of plan.dispatches) d(pass);
    pass.end();
    const [y] = await readBuffers(this.device, [plan.ys], encoder);
    return new Float32Array(y, 0, R * H);
  }

  destroy(): void {
    this.plans.destroy();
  }

  private build(layer: number, R: number): Plan {
    const { gateUp, down } = this.layers.get(layer)!;
    const I = gateUp.outputs;
    const ws = new Workspace(this.device);
    const x = ws.buffer(R * this.hidden * 4, 'shard x');
    const ids = ws.buffer(R * 4, 'shard ids');
    const weights = ws.buffer(R * 4, 'shard weights');
    const ys = ws.buffer(R * this.hidden * 4, 'shard ys');
    if (R <= GEMV_MAX_ROWS) {
      const h = ws.buffer(R * I * 4, 'shard h');
      return {
        ws, x, ids, weights, ys, rows: 0, blocks: 0,
        dispatches: [
          ...indexedGemv(ws, gateUp, { a: x, ids, routeW: weights, out: h }, 1, R),
          ...indexedGemv(ws, down, { a: h, ids, routeW: weights, out: ys }, 1, R),
        ],
      };
    }
    const rows = blockRowsFor(R, gateUp.experts);
    const blocks = maxBlocks(R, gateUp.experts, rows);
    const sorted = ws.buffer(blocks * rows * 4, 'shard sorted rows');
    const blockExpert = ws.buffer(blocks * 4, 'shard block experts');
    const h = ws.buffer(blocks * rows * I * 4, 'shard h');
    const aligned = { sorted, blockExpert, routeW: weights };
    return {
      ws, x, ids, weights, ys, sorted, blockExpert, rows, blocks,
      dispatches: [
        ...groupedGemm(ws, gateUp, { ...aligned, a: x, out: h }, 1, blocks, rows),
        ...groupedGemm(ws, down, { ...aligned, a: h, out: ys }, 1, blocks, rows),
      ],
    };
  }
}

/** Each expert's run of rows padded to whole blocks of `rows`; NONE for padding and unused blocks. */
function alignOnHost(ids: Uint32Array, rows: number, blocks: number): { sorted: Uint32Array<ArrayBuffer>; blockExpert: Uint32Array<ArrayBuffer> } {
  const sorted = new Uint32Array(blocks * rows).fill(NONE);
  const blockExpert = new Uint32Array(blocks).fill(NONE);
  let b = 0;
  for (let r = 0; r < ids.length;) {
    const e = ids[r];
    let n = 0;
    while (r + n < ids.length && ids[r + n] === e) n++;
    for (let i = 0; i < n; i++) sorted[b * rows + i] = r + i;
    for (let i = 0; i < Math.ceil(n / rows); i++) blockExpert[b + i] = e;
    b += Math.ceil(n / rows);
    r += n;
  }
  return { sorted, blockExpert };
}
