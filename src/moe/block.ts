// What the decoder records for a layer's MLP, and where a layer's routed experts go when they do not
// live on the decoder's device (the expert-parallel scheduler).
import type { RawRows } from '../io/checkpoint.js';
import type { WeightDType } from '../weights/format.js';
import type { ExpertBackend } from './backend.js';
import type { RoutingBuffers } from './layer.js';

/**
 * A layer's MLP as the forward records it: a MoELayer (fused, on this device), or a block that must
 * leave the GPU (expert-parallel: experts on other workers), which submits `encoder` itself and
 * resolves to the encoder the forward goes on with.
 */
export interface MLPBlock {
  encode(encoder: GPUCommandEncoder, x: GPUBuffer, y: GPUBuffer, tokens: number): void | Promise<GPUCommandEncoder>;
  /** the routing of the last call */
  routing(): RoutingBuffers;
  destroy(): void;
}

/** Where routed experts go when they are not loaded onto the decoder's device. */
export interface ExternalExperts {
  /** The storage of the experts' weights where they go. */
  readonly dtype: WeightDType;
  /**
   * Rows of layer `layer`'s stacked gate/up [E, 2I, H] or down [E, H, I] matrix, counted over its
   * [experts][parts][outputs] rows, as they stream in (as the checkpoint stores them).
   */
  rows(layer: number, matrix: 'gateUp' | 'down', firstRow: number, rows: RawRows): void | Promise<void>;
  /** The backend that runs the layer's routed experts there (the layer's block routes and combines). */
  backend(layer: number): ExpertBackend;
}
