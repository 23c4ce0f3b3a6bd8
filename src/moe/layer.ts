// A MoE block whose weights live on the GPU: encode() records router, alignment, expert GEMMs and
// combine into one compute pass; nothing is read back, so routing never waits for the CPU.
import type { TileTrial } from './tune.js';
import { combineKernel } from '../kernels/combine.js';
import { storageBindingLimit } from '../gpu/limits.js';
import { PlanCache } from '../gpu/plans.js';
import { type Dispatch, Workspace } from '../gpu/workspace.js';
import { ExpertSet, type ExpertSetRun } from './experts.js';
import { MAX_TOKENS, type MoEConfig, MoEInputError, type MoEWeights, resolveRouting, validateLayer, validateMask } from './spec.js';

export interface MoELayerOptions {
  /** Calls on at most this many tokens take the indexed-GEMV decode path. Default 4. */
  decodeMaxTokens?: number;
  /** Label prefix of the GPU objects (shows in WebGPU errors). */
  label?: string;
}

/** GPU buffers of the routing decisions of the last call on a given token count. */
export interface RoutingBuffers {
  /** [T,k] u32 expert ids, best first */
  ids: GPUBuffer;
  /** [T,k] f32 routing weights */
  weights: GPUBuffer;
  /** [E] u32 tokens routed to each expert */
  counts: GPUBuffer;
}

interface Plan {
  ws: Workspace;
  routed: ExpertSetRun;
  clears: GPUBuffer[];
  dispatches: Dispatch[];
}

/**
 * Plans (buffers + bind groups) kept, per (token count, x, y): decode reuses one, prefill makes a
 * few. One command encoder may hold this many encode() calls of one layer with distinct plans.
 */
const PLANS_KEPT = 8;

/** Small stable ids for buffers, to key plans by the buffers they bind. */
const bufferIds = new WeakMap<GPUBuffer, number>();
let nextBufferId = 0;
const bufferId = (b: GPUBuffer): number => {
  let id = bufferIds.get(b);
  if (id === undefined) bufferIds.set(b, (id = nextBufferId++));
  return id;
};

export class MoELayer {
  private readonly routed: ExpertSet;
  private readonly shared?: ExpertSet;
  private readonly decodeMaxTokens: number;
  private readonly plans = new PlanCache<Plan>(PLANS_KEPT);
  private last?: Plan;

  private constructor(private readonly device: GPUDevice, readonly config: Readonly<MoEConfig>, w: MoEWeights, o: MoELayerOptions) {
    const label = o.label ?? 'moe';
    const dtype = config.dtype ?? 'f32';
    this.decodeMaxTokens = o.decodeMaxTokens ?? 4;
    this.routed = new ExpertSet(device, resolveRouting(config), config.hidden, config.intermediate, dtype, {
      router: w.router, routerBias: w.routerBias, selectionBias: w.selectionBias, mask: w.expertMask,
      gateUp: w.gateUp, down: w.down,
    }, label);
    if (w.shared) {
      const s = w.shared;
      this.shared = new ExpertSet(device, {
        experts: 1, topK: 1, scoring: s.gate ? 1 : 0, normTopK: false, routedScaling: 1, nGroup: 1, topkGroup: 1,
      }, config.hidden, s.intermediate, dtype, {
        router: s.gate ?? new Float32Array(config.hidden), gateUp: s.gateUp, down: s.down,
      }, `${label} shared`);
    }
  }

  /** Uploads the weights (split across bindings as the device requires). Throws MoEInputError on bad input. */
  static create(device: GPUDevice, config: MoEConfig, weights: MoEWeights, options: MoELayerOptions = {}): MoELayer {
    validateLayer(config, weights);
    return new MoELayer(device, { ...config }, weights, options);
  }

  /**
   * Records y [T,H] = MoE(x [T,H]) into `encoder`. x and y are f32 storage buffers; the routing of
   * this call is readable through routing() until the next encode().
   */
  encode(encoder: GPUCommandEncoder, x: GPUBuffer, y: GPUBuffer, tokens: number): void {
    if (!Number.isInteger(tokens) || tokens < 0 || tokens > MAX_TOKENS) {
      throw new MoEInputError(`webmoe: tokens must be an integer in 0…${MAX_TOKENS}, got ${tokens}`);
    }
    if (tokens === 0) return;
    const plan = this.plan(x, y, tokens);
    this.last = plan;
    for (const b of plan.clears) encoder.clearBuffer(b);
    const pass = encoder.beginComputePass({ label: 'moe block' });
    for (const d of plan.dispatches) d(pass);
    pass.end();
  }

  /**
   * Times the decode GEMV's tile shapes on this layer's matrices and keeps the fastest for the device
   * (once per shape). Call before the first encode(): plans keep the tiles they were made with.
   */
  async tune(): Promise<TileTrial[]> {
    return [...await this.routed.tune(), ...await this.shared?.tune() ?? []];
  }

  /** Routing buffers written by the latest encode(). */
  routing(): RoutingBuffers {
    if (!this.last) throw new MoEInputError('webmoe: routing() before any encode()');
    const { ids, weights, counts } = this.last.routed;
    return { ids, weights, counts };
  }

  /** Steers routing: masked (false/0) experts are never chosen from the next call on. */
  setExpertMask(mask: ArrayLike<boolean | number>): void {
    validateMask(mask, this.routed.routing);
    this.routed.setMask(mask);
  }

  destroy(): void {
    this.plans.destroy();
    this.last = undefined;
    this.routed.destroy();
    this.shared?.destroy();
  }

  private plan(x: GPUBuffer, y: GPUBuffer, tokens: number): Plan {
    return this.plans.get(`${tokens} ${bufferId(x)} ${bufferId(y)}`, () => this.build(x, y, tokens));
  }

  private build(x: GPUBuffer, y: GPUBuffer, tokens: number): Plan {
    const gemv = tokens <= this.decodeMaxTokens;
    this.checkFits(tokens, gemv);
    const ws = new Workspace(this.device);
    const routed = this.routed.plan(ws, x, tokens, gemv);
    const shared = this.shared?.plan(ws, x, tokens, gemv);
    const combine = combineKernel(ws, { ys: routed.ys, shared: shared?.ys, y }, tokens, this.config.hidden, this.config.topK);
    return {
      ws, routed,
      clears: [routed.counts, ...(shared ? [shared.counts] : [])],
      dispatches: [...routed.dispatches, ...(shared?.dispatches ?? []), combine],
    };
  }

  private checkFits(tokens: number, gemv: boolean): void {
    const sets = [this.routed, ...(this.shared ? [this.shared] : [])].map((s) => s.needs(tokens, gemv));
    const limit = storageBindingLimit(this.device);
    const bytes = Math.max(tokens * this.config.hidden * 4, ...sets.map((n) => n.bytes));
    if (bytes > limit) {
      throw new MoEInputError(
        `webmoe: ${tokens} tokens need a ${bytes}-byte activation buffer, over the storage binding limit of ${limit}: run fewer tokens per call`,
      );
    }
    const maxGrid = this.device.limits.maxComputeWorkgroupsPerDimension;
    const grid = Math.max(...sets.map((n) => n.grid));
    if (grid > maxGrid) {
      throw new MoEInputError(
        `webmoe: ${tokens} tokens need ${grid} workgroups in one grid dimension, over the device's ${maxGrid}: run fewer tokens per call`,
      );
    }
  }
}
