// The fused expert backend: every expert of the layer resident on this device, in order (the slot
// table is the identity), run by the MoE block's kernels in the same pass as the router.
import type { Activation } from '../kernels/expertMatmul.js';
import type { Step } from '../gpu/steps.js';
import { uploadBuffer, type Workspace } from '../gpu/workspace.js';
import type { WeightStorage } from '../weights/format.js';
import { destroyExpertMatrix, type ExpertWeights, toExpertMatrix } from '../weights/matrix.js';
import type { ExpertBackend } from './backend.js';
import { type ExpertPair, expertFFN, identitySlots, type PathOptions, routedSlots, slotShape } from './matmul.js';
import type { RoutingBuffers } from './router.js';
import { type TileTrial, tuneGemm, tuneGemv } from './tune.js';

export interface FusedShape {
  experts: number;
  topK: number;
  hidden: number;
  intermediate: number;
  /** The gated activation. Default SwiGLU. */
  activation?: Activation;
}

export class FusedExperts implements ExpertBackend {
  private readonly pair: ExpertPair;

  constructor(
    private readonly device: GPUDevice,
    readonly shape: FusedShape,
    dtype: WeightStorage,
    w: { gateUp: ExpertWeights; down: ExpertWeights; gateUpBias?: Float32Array; downBias?: Float32Array },
    label: string,
    private readonly path: PathOptions = {},
  ) {
    const { experts: E, hidden: H, intermediate: I } = shape;
    this.pair = {
      gateUp: toExpertMatrix(device, w.gateUp, { experts: E, parts: 2, outputs: I, inner: H }, dtype, `${label} gate/up`),
      down: toExpertMatrix(device, w.down, { experts: E, parts: 1, outputs: H, inner: I }, dtype, `${label} down`),
      slotOf: uploadBuffer(device, identitySlots(E), `${label} slot table`),
      activation: shape.activation,
      gateUpBias: w.gateUpBias && uploadBuffer(device, w.gateUpBias, `${label} gate/up bias`),
      downBias: w.downBias && uploadBuffer(device, w.downBias, `${label} down bias`),
    };
  }

  plan(ws: Workspace, x: GPUBuffer, routed: RoutingBuffers, tokens: number, ys: GPUBuffer): Step[] {
    const { experts, topK } = this.shape;
    return expertFFN(ws, this.pair, routedSlots(ws, routed, tokens, topK, experts, this.path), x, ys);
  }

  needs(tokens: number): { bytes: number; grid: number } {
    return ffnNeeds(this.shape, tokens, this.path);
  }

  /** Picks the decode GEMV's and the prefill GEMM's tiles for this backend's matrices on this device (moe/tune.ts). */
  tune(): Promise<TileTrial[]> {
    return tunePair(this.device, this.pair, this.shape.topK);
  }

  destroy(): void {
    destroyExpertMatrix(this.pair.gateUp);
    destroyExpertMatrix(this.pair.down);
    for (const b of [this.pair.slotOf, this.pair.gateUpBias, this.pair.downBias]) b?.destroy();
  }
}

/** What a call of expert FFNs of `s` on `tokens` needs: its largest activation buffer (bytes) and grid dimension. */
export function ffnNeeds(s: FusedShape, tokens: number, path: PathOptions): { bytes: number; grid: number } {
  const { hRows, grid } = slotShape(tokens, s.topK, s.experts, path);
  return { bytes: 4 * Math.max(hRows * s.intermediate, tokens * s.topK * s.hidden), grid };
}

/** Picks the decode GEMV's tiles for both matrices (with k slots a token) and the prefill GEMM's for their storage. */
export async function tunePair(device: GPUDevice, { gateUp, down }: Pick<ExpertPair, 'gateUp' | 'down'>, k: number): Promise<TileTrial[]> {
  return [...await tuneGemv(device, gateUp, k), ...await tuneGemv(device, down, k), ...await tuneGemm(device, gateUp.dtype, gateUp.inner)];
}
