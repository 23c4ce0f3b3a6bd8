// One routed set of experts: router → (alignment → grouped GEMMs) or (indexed GEMVs) → ys [T·k, H].
// The shared expert of Qwen2-MoE is such a set too: one expert, k = 1, and a router whose single
// logit is the shared gate (sigmoid scoring) or nothing (softmax of one logit = weight 1).
import { type TileTrial, tuneGemm, tuneGemv } from './tune.js';
import { alignKernel, blockRowsFor, maxBlocks } from '../kernels/align.js';
import { groupedGemm, indexedGemv } from '../kernels/expertMatmul.js';
import { type Routing, routerKernel } from '../kernels/router.js';
import { type Dispatch, type Workspace, uploadBuffer } from '../gpu/workspace.js';
import { destroyExpertMatrix, type ExpertMatrix, type ExpertWeights, toExpertMatrix } from '../weights/matrix.js';
import type { WeightDType } from '../weights/format.js';

export interface ExpertSetWeights {
  router: Float32Array;
  routerBias?: Float32Array;
  selectionBias?: Float32Array;
  mask?: ArrayLike<boolean | number>;
  gateUp: ExpertWeights;
  down: ExpertWeights;
}

/** What one call on T tokens produces, and the launches that produce it. */
export interface ExpertSetRun {
  ids: GPUBuffer;      // [T,k] u32
  weights: GPUBuffer;  // [T,k] f32
  counts: GPUBuffer;   // [E] u32, cleared by the caller before the pass
  ys: GPUBuffer;       // [T·k, H], routing weights applied
  dispatches: Dispatch[];
}

export class ExpertSet {
  private readonly router: GPUBuffer;
  private readonly bias: GPUBuffer;
  private readonly selBias: GPUBuffer;
  private readonly mask: GPUBuffer;
  private readonly gateUp: ExpertMatrix;
  private readonly down: ExpertMatrix;

  constructor(
    private readonly device: GPUDevice,
    readonly routing: Routing,
    readonly hidden: number,
    readonly intermediate: number,
    dtype: WeightDType,
    w: ExpertSetWeights,
    label: string,
  ) {
    const E = routing.experts;
    this.router = uploadBuffer(device, w.router, `${label} router`);
    this.bias = uploadBuffer(device, w.routerBias ?? new Float32Array(E), `${label} router bias`);
    this.selBias = uploadBuffer(device, w.selectionBias ?? new Float32Array(E), `${label} selection bias`);
    this.mask = uploadBuffer(device, maskWords(w.mask, E), `${label} expert mask`);
    this.gateUp = toExpertMatrix(device, w.gateUp, { experts: E, parts: 2, outputs: intermediate, inner: hidden }, dtype, `${label} gate/up`);
    this.down = toExpertMatrix(device, w.down, { experts: E, parts: 1, outputs: hidden, inner: intermediate }, dtype, `${label} down`);
  }

  /** Replaces the expert mask for the next calls (checked by the caller). */
  setMask(mask: ArrayLike<boolean | number>): void {
    this.device.queue.writeBuffer(this.mask, 0, maskWords(mask, this.routing.experts));
  }

  /** Picks the decode GEMV's and the prefill GEMM's tiles for this set's matrices on this device (moe/tune.ts). */
  async tune(): Promise<TileTrial[]> {
    const { topK } = this.routing;
    return [...await tuneGemv(this.device, this.gateUp, topK), ...await tuneGemv(this.device, this.down, topK), ...await tuneGemm(this.device, this.gateUp.dtype, this.gateUp.inner)];
  }

  /** A call's largest activation buffer (bytes) and longest grid dimension (workgroups). */
  needs(tokens: number, gemv: boolean): { bytes: number; grid: number } {
    const slots = tokens * this.routing.topK;
    const { blocks, hRows } = this.tiling(slots, gemv);
    return { bytes: 4 * Math.max(hRows * this.intermediate, slots * this.hidden), grid: gemv ? slots : blocks };
  }

  /** GEMM tile height, worst-case block count and rows of h (slot rows on the GEMV path). */
  private tiling(slots: number, gemv: boolean) {
    const rows = blockRowsFor(slots, this.routing.experts);
    const blocks = maxBlocks(slots, this.routing.experts, rows);
    return { rows, blocks, hRows: gemv ? slots : blocks * rows };
  }

  /** Buffers and launches for one call on `tokens` rows of `x`; `gemv` picks the decode path. */
  plan(ws: Workspace, x: GPUBuffer, tokens: number, gemv: boolean): ExpertSetRun {
    const { experts: E, topK: k } = this.routing;
    const slots = tokens * k;
    const ids = ws.buffer(slots * 4, 'ids');
    const weights = ws.buffer(slots * 4, 'weights');
    const counts = ws.buffer(E * 4, 'counts');
    const ys = ws.buffer(slots * this.hidden * 4, 'ys');
    const dispatches = [routerKernel(ws, {
      x, wr: this.router, bias: this.bias, selBias: this.selBias, mask: this.mask, ids, weights, counts,
    }, { ...this.routing, tokens, hidden: this.hidden })];
    const { rows, blocks, hRows } = this.tiling(slots, gemv);
    const h = ws.buffer(hRows * this.intermediate * 4, 'h');
    if (gemv) {
      dispatches.push(
        ...indexedGemv(ws, this.gateUp, { a: x, ids, routeW: weights, out: h }, k, slots),
        ...indexedGemv(ws, this.down, { a: h, ids, routeW: weights, out: ys }, k, slots),
      );
    } else {
      const sorted = ws.buffer(blocks * rows * 4, 'sorted slots');
      const blockExpert = ws.buffer(blocks * 4, 'block experts');
      const aligned = { sorted, blockExpert, routeW: weights };
      dispatches.push(
        alignKernel(ws, { ids, counts, sorted, blockExpert }, slots, E, rows),
        ...groupedGemm(ws, this.gateUp, { ...aligned, a: x, out: h }, k, blocks, rows),
        ...groupedGemm(ws, this.down, { ...aligned, a: h, out: ys }, k, blocks, rows),
      );
    }
    return { ids, weights, counts, ys, dispatches };
  }

  destroy(): void {
    for (const b of [this.router, this.bias, this.selBias, this.mask]) b.destroy();
    destroyExpertMatrix(this.gateUp);
    destroyExpertMatrix(this.down);
  }
}

function maskWords(mask: ArrayLike<boolean | number> | undefined, experts: number): Uint32Array<ArrayBuffer> {
  return Uint32Array.from({ length: experts }, (_, e) => (mask ? (mask[e] ? 1 : 0) : 1));
}
