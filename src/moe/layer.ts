// A MoE block: the router, the routed experts (an expert backend: fused on this device, or sharded
// over workers), an optional shared expert and the combine. plan() records it into a caller's
// workspace; with the fused backend the whole block is one compute pass and nothing is read back, so
// routing never waits for the CPU.
import { combineKernel, type SlotRows } from '../kernels/combine.js';
import type { Routing } from '../kernels/router.js';
import { storageBindingLimit } from '../gpu/limits.js';
import { PlanCache } from '../gpu/plans.js';
import { clearStep, recordSteps, type Step } from '../gpu/steps.js';
import { Workspace } from '../gpu/workspace.js';
import type { ExpertBackend } from './backend.js';
import { FusedExperts } from './fused.js';
import { type RoutingBuffers, Router, type RouterWeights } from './router.js';
import {
  MAX_TOKENS,
  type MoEConfig,
  MoEInputError,
  type MoEWeights,
  resolveRouting,
  type RoutingControls,
  type SharedExpertWeights,
  validateControls,
  validateLayer,
  validateMask,
  validateRouter,
} from './spec.js';
import type { TileTrial } from './tune.js';

export type { RoutingBuffers };

export interface MoELayerOptions {
  /** Calls on at most this many tokens take the indexed-GEMV decode path. Default 4. */
  decodeMaxTokens?: number;
  /** Label prefix of the GPU objects (shows in WebGPU errors). */
  label?: string;
}

/**
 * Plans (buffers + bind groups) kept by encode(), per (token count, x, y): decode reuses one, prefill
 * makes a few. One command encoder may hold this many encode() calls of one layer with distinct plans.
 */
const PLANS_KEPT = 8;

/** Small stable ids for buffers, to key plans by the buffers they bind. */
const bufferIds = new WeakMap<GPUBuffer, number>();
let nextBufferId = 0;
const bufferId = (b: GPUBuffer): number => {
  let id = bufferIds.get(b);
  if (id === undefined) bufferIds.set(b, id = nextBufferId++);
  return id;
};

interface SharedExpert {
  router: Router;
  experts: FusedExperts;
}

export class MoELayer {
  private readonly plans = new PlanCache<{ ws: Workspace; steps: Step[]; routing: RoutingBuffers }>(PLANS_KEPT);
  private last?: RoutingBuffers;
  /** The routing of the next calls: the config's, with the controls of setControls(). */
  private current: Routing;
  private controls_: RoutingControls = {};
  private mask: ArrayLike<boolean | number>;

  private constructor(
    private readonly device: GPUDevice,
    readonly config: Readonly<MoEConfig>,
    private readonly router: Router,
    private readonly experts: ExpertBackend,
    private readonly shared: SharedExpert | undefined,
    mask: ArrayLike<boolean | number> | undefined,
  ) {
    this.current = router.routing;
    this.mask = Array.from(mask ?? new Array<number>(config.numExperts).fill(1), (m) => (m ? 1 : 0));
    experts.steer?.((extra) => router.steer(extra));
  }

  /** Uploads the weights (split across bindings as the device requires). Throws MoEInputError on bad input. */
  static create(device: GPUDevice, config: MoEConfig, weights: MoEWeights, options: MoELayerOptions = {}): MoELayer {
    validateLayer(config, weights);
    const label = options.label ?? 'moe';
    const path = { decodeMaxTokens: options.decodeMaxTokens };
    const experts = new FusedExperts(device, shapeOf(config), config.dtype ?? 'f32', weights, label, path);
    return MoELayer.assemble(device, config, weights, experts, options);
  }

  /** A block whose routed experts run on `experts` (the expert-parallel scheduler's, say); the router and shared expert are uploaded here. */
  static withExperts(
    device: GPUDevice,
    config: MoEConfig,
    weights: Omit<MoEWeights, 'gateUp' | 'down' | 'gateUpBias' | 'downBias'>,
    experts: ExpertBackend,
    options: MoELayerOptions = {},
  ): MoELayer {
    validateRouter(config, weights);
    // The experts' biases are the backend's (the scheduler hands them to its workers), never the block's.
    const { gateUpBias, downBias } = weights as Partial<MoEWeights>;
    if (gateUpBias || downBias) throw new MoEInputError('webmoe: expert biases go to the external experts (ExternalExperts.bias), not to the block');
    return MoELayer.assemble(device, config, weights, experts, options);
  }

  private static assemble(device: GPUDevice, c: MoEConfig, w: RouterWeights & Pick<MoEWeights, 'shared' | 'expertMask'>, experts: ExpertBackend,
    o: MoELayerOptions): MoELayer
  {
    const label = o.label ?? 'moe';
    const router = new Router(device, resolveRouting(c), c.hidden, { ...w, mask: w.expertMask }, label);
    const shared = w.shared && sharedExpert(device, c, w.shared, `${label} shared`, { decodeMaxTokens: o.decodeMaxTokens });
    return new MoELayer(device, { ...c }, router, experts, shared, w.expertMask);
  }

  /**
   * Steps recording y [T,H] = MoE(x [T,H]) into buffers of `ws`, and the routing buffers they write.
   * Throws MoEInputError when the call does not fit the device.
   */
  plan(ws: Workspace, x: GPUBuffer, y: GPUBuffer, tokens: number): { steps: Step[]; routing: RoutingBuffers } {
    const { steps, routing, rows } = this.planRows(ws, x, tokens);
    return { steps: [...steps, combineKernel(ws, rows, y, tokens, this.config.hidden)], routing };
  }

  /**
   * plan() up to the combine: the steps leave MoE(x) as each token's rows to sum (its k slots, the
   * shared expert's row), for a kernel that sums them on its way (the decoder's next RMSNorm).
   */
  planRows(ws: Workspace, x: GPUBuffer, tokens: number): { steps: Step[]; routing: RoutingBuffers; rows: SlotRows } {
    const k = this.current.topK;
    this.checkFits(tokens, k);
    const H = this.config.hidden;
    const routed = this.router.plan(ws, x, tokens, this.current);
    const ys = ws.buffer(tokens * k * H * 4, 'ys');
    const steps: Step[] = [clearStep(routed.counts)];
    const work: Step[] = [...routed.route];
    let sharedY: GPUBuffer | undefined;
    if (this.shared) {
      const s = this.shared.router.plan(ws, x, tokens);
      sharedY = ws.buffer(tokens * H * 4, 'shared ys');
      steps.push(clearStep(s.counts));
      work.push(...s.route, ...this.shared.experts.plan(ws, x, s, tokens, sharedY));
    }
    // The shared expert first: a backend that leaves the GPU submits it with the router.
    work.push(...this.experts.plan(ws, x, routed, tokens, ys));
    const { ids, weights, counts } = routed;
    return { steps: [...steps, ...work], routing: { ids, weights, counts, topK: k }, rows: { ys, ids, shared: sharedY, topK: k } };
  }

  /** The backend's steps on the layer's normed input before its attention (MLPBlock.ahead). */
  ahead(ws: Workspace, x: GPUBuffer, tokens: number): Step[] {
    return this.experts.ahead?.(ws, x, tokens) ?? [];
  }

  /**
   * Records y [T,H] = MoE(x [T,H]) into `encoder`. x and y are f32 storage buffers; the routing of
   * this call is readable through routing() until the next encode(). A backend that leaves the GPU
   * submits `encoder` itself and resolves to the encoder to go on with.
   */
  encode(encoder: GPUCommandEncoder, x: GPUBuffer, y: GPUBuffer, tokens: number): void | Promise<GPUCommandEncoder> {
    if (!Number.isInteger(tokens) || tokens < 0 || tokens > MAX_TOKENS) {
      throw new MoEInputError(`webmoe: tokens must be an integer in 0…${MAX_TOKENS}, got ${tokens}`);
    }
    if (tokens === 0) return;
    const plan = this.plans.get(`${tokens} ${bufferId(x)} ${bufferId(y)} ${this.controlsKey()}`, () => {
      const ws = new Workspace(this.device);
      try {
        return { ws, ...this.plan(ws, x, y, tokens) };
      } catch (e) {
        ws.destroy();
        throw e;
      }
    });
    this.last = plan.routing;
    return recordSteps(encoder, plan.steps, 'moe block');
  }

  /**
   * Times the expert kernels' tile shapes on this layer's matrices and keeps the fastest for the
   * device (once per shape). Call before the first encode(): plans keep the tiles they were made with.
   */
  async tune(): Promise<TileTrial[]> {
    return [...await this.experts.tune(), ...await this.shared?.experts.tune() ?? []];
  }

  /** Routing buffers written by the latest encode(). */
  routing(): RoutingBuffers {
    if (!this.last) throw new MoEInputError('webmoe: routing() before any encode()');
    return this.last;
  }

  /** Steers routing: masked (false/0) experts are never chosen from the next call on. */
  setExpertMask(mask: ArrayLike<boolean | number>): void {
    validateMask(mask, this.current);
    this.router.setMask(mask);
    this.mask = Array.from(mask, (m) => (m ? 1 : 0));
  }

  /** The expert mask of the next calls (1: may be chosen). */
  expertMask(): number[] {
    return Array.from(this.mask, Number);
  }

  /**
   * The routing controls of the next calls (k, top-p, capacity), over the block's config (absent
   * fields keep the config's), and the expert mask with them. Throws MoEInputError naming a bad
   * control, or when the mask leaves fewer than k experts, changing nothing.
   */
  setControls(c: RoutingControls, mask: ArrayLike<boolean | number> = this.mask): void {
    validateControls(c, this.config.numExperts);
    const defined = Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined));
    const next = resolveRouting({ ...this.config, ...defined });
    if (next.minK > next.topK) throw new MoEInputError(`webmoe: minK ${next.minK} is over topK ${next.topK}`);
    validateMask(mask, next);
    this.current = next;
    this.controls_ = { ...c };
    if (mask !== this.mask) this.setExpertMask(mask);
  }

  /** The controls of the last setControls(). */
  controls(): RoutingControls {
    return { ...this.controls_ };
  }

  /** What the plans of the current controls differ by (their uniforms and sizes). */
  controlsKey(): string {
    const r = this.current;
    return `${r.topK} ${r.topP} ${r.minK} ${r.capacityFactor} ${r.capacityNext}`;
  }

  /** The routing of the next calls, in the kernels' form. */
  routingNow(): Readonly<Routing> {
    return this.current;
  }

  /**
   * [E+3] u32, summed over the calls since resetTotals(): pairs per expert, pairs dropped by
   * capacity, tokens, and experts run (one per expert a forward gave a pair: the expert weights it
   * read) (the routing telemetry's source).
   */
  get totals(): GPUBuffer {
    return this.router.totals;
  }

  /** Zeroes the totals (from the queue: before the next submitted call). */
  resetTotals(): void {
    this.router.resetTotals();
  }

  destroy(): void {
    this.plans.destroy();
    this.last = undefined;
    this.router.destroy();
    this.experts.destroy();
    if (this.shared) {
      this.shared.router.destroy();
      this.shared.experts.destroy();
    }
  }

  private checkFits(tokens: number, topK: number): void {
    const needs = [this.experts.needs(tokens, topK), ...(this.shared ? [this.shared.experts.needs(tokens, 1)] : [])];
    const limit = storageBindingLimit(this.device);
    const bytes = Math.max(tokens * this.config.hidden * 4, ...needs.map((n) => n.bytes));
    if (bytes > limit) {
      throw new MoEInputError(
        `webmoe: ${tokens} tokens need a ${bytes}-byte activation buffer, over the storage binding limit of ${limit}: run fewer tokens per call`,
      );
    }
    const maxGrid = this.device.limits.maxComputeWorkgroupsPerDimension;
    const grid = Math.max(...needs.map((n) => n.grid));
    if (grid > maxGrid) {
      throw new MoEInputError(
        `webmoe: ${tokens} tokens need ${grid} workgroups in one grid dimension, over the device's ${maxGrid}: run fewer tokens per call`,
      );
    }
  }
}

const shapeOf = (c: MoEConfig) => ({ experts: c.numExperts, topK: c.topK, hidden: c.hidden, intermediate: c.intermediate, activation: c.activation });

/**
 * A shared expert (Qwen2-MoE) as a routed set of one expert, k = 1, whose router's single logit is the
 * shared gate (sigmoid scoring) or nothing (softmax of one logit = weight 1).
 */
function sharedExpert(device: GPUDevice, c: MoEConfig, s: SharedExpertWeights, label: string, path: { decodeMaxTokens?: number }): SharedExpert {
  const routing = resolveRouting({ hidden: c.hidden, numExperts: 1, intermediate: s.intermediate, topK: 1, scoring: s.gate ? 'sigmoid' : 'softmax' });
  return {
    router: new Router(device, routing, c.hidden, { router: s.gate ?? new Float32Array(c.hidden) }, label),
    experts: new FusedExperts(device, { ...shapeOf(c), experts: 1, topK: 1, intermediate: s.intermediate }, c.dtype ?? 'f32', s, label, path),
  };
}
