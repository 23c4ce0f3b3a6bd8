// What runs a MoE layer's routed experts. The layer routes (router.ts) and combines; a backend turns
// the routing into each slot's weighted expert output. Fused: every expert resident on this device
// (fused.ts). Sharded: experts on worker devices and CPUs (sharded/). A backend whose experts are not
// all resident reads the routing and fetches what it lacks (the slot table lets the kernels run on
// any subset).
import type { RawRows } from '../io/checkpoint.js';
import type { WeightStorage } from '../weights/format.js';
import type { TileTrial } from './tune.js';
import type { Step } from '../gpu/steps.js';
import type { Workspace } from '../gpu/workspace.js';
import type { RoutingBuffers } from './router.js';

export interface ExpertBackend {
  /**
   * Steps that write ys [T·k, H] (k = routed.topK, the call's): each routing slot's expert output
   * times its weight. Empty slots (id NONE) are skipped: nothing runs for them and their rows of ys
   * are never read.
   */
  plan(ws: Workspace, x: GPUBuffer, routed: RoutingBuffers, tokens: number, ys: GPUBuffer): Step[];
  /** Steps on the layer's normed input x [T, H] before its attention (to predict its experts early), if the backend wants it. */
  ahead?(ws: Workspace, x: GPUBuffer, tokens: number): Step[];
  /**
   * Given once by the block, if the backend wants it: `route` adds extra [E] to the layer router's
   * selection scores from the next calls on (the choice only, never the weights; Router.steer).
   */
  steer?(route: (extra: Float32Array) => void): void;
  /** The largest activation buffer (bytes) and grid dimension (workgroups) a call on `tokens` with k = `topK` needs on this device. */
  needs(tokens: number, topK: number): { bytes: number; grid: number };
  /** Picks the kernels' tiles for this backend's matrices on this device. */
  tune(): Promise<TileTrial[]>;
  destroy(): void;
}

/** Where routed experts go when they are not loaded onto the decoder's device. */
export interface ExternalExperts {
  /** The storage of the experts' weights where they go (a checkpoint's MXFP4 experts stay MXFP4). */
  readonly dtype: WeightStorage;
  /**
   * Rows of layer `layer`'s stacked gate/up [E, 2I, H] or down [E, H, I] matrix, counted over its
   * [experts][parts][outputs] rows, as they stream in (as the checkpoint stores them).
   */
  rows(layer: number, matrix: 'gateUp' | 'down', firstRow: number, rows: RawRows): void | Promise<void>;
  /**
   * Biases of layer `layer`'s experts from expert `firstExpert` on, one row an expert: gate/up [E, 2I]
   * (each expert's I gate biases, then its I up biases) or down [E, H], added as the fused backend's.
   */
  bias(layer: number, matrix: 'gateUp' | 'down', firstExpert: number, values: Float32Array): void | Promise<void>;
  /**
   * One plane of stored rows, counted as rows() counts them, for a storage that splits rows into
   * planes (MXFP4: 0 the codes, 1 the scales; weights/mxfp4Rows.ts): the checkpoint's bytes as they are.
   */
  plane(layer: number, matrix: 'gateUp' | 'down', plane: number, firstRow: number, bytes: Uint8Array): void | Promise<void>;
  /**
   * How to read layer `layer`'s experts again from the model source, and its router on the host:
   * handed once per MoE layer as the model is declared (the cached backend fetches its misses so, and
   * predicts a layer's experts with its router). Backends that keep every expert need not take it.
   */
  source?(layer: number, s: ExpertSource): void;
  /** The experts are read only through source(), when needed: the load streams none of their rows. */
  readonly onDemand?: boolean;
  /** Bytes the experts take on the decoder's device (the expert cache's slots), for the load's memory check. */
  readonly deviceBytes?: number;
  /** The backend that runs the layer's routed experts there (the layer's block routes and combines). */
  backend(layer: number): ExpertBackend;
}

/** One MoE layer's experts in the model source, and its router (filled as the checkpoint streams). */
export interface ExpertSource {
  /** the model source's name, for errors */
  name: string;
  /** Reads expert `expert`'s rows again, by row ranges: they arrive through rows() and plane() as at load. */
  read(expert: number, signal?: AbortSignal): Promise<void>;
  /** [E, H], [E] and [E]: the layer's router weights, logit bias and selection bias */
  router: Float32Array;
  routerBias?: Float32Array;
  selectionBias?: Float32Array;
}
