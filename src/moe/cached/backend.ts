// The cached expert backend of one MoE layer, as the block records it: the router ran on this device;
// the expert kernels are planned once on the cache's slot matrices and this layer's slot table, and run
// where the block would run them, in a step that leaves the GPU: the cache reads the routing back,
// makes the experts resident and submits the kernels (experts.ts).
import type { Step } from '../../gpu/steps.js';
import type { Workspace } from '../../gpu/workspace.js';
import type { ExpertBackend } from '../backend.js';
import { type FusedShape, ffnNeeds } from '../fused.js';
import { type ExpertPair, expertFFN, type PathOptions, routedSlots } from '../matmul.js';
import type { RoutingBuffers } from '../router.js';
import type { TileTrial } from '../tune.js';
import type { CachedExperts } from './experts.js';

export class CachedLayer implements ExpertBackend {
  constructor(
    private readonly cache: CachedExperts,
    private readonly layer: number,
    /** the cache's slot matrices, this layer's slot table and biases (the latter two this layer's own) */
    private readonly pair: ExpertPair,
    private readonly shape: FusedShape,
    private readonly path: PathOptions = {},
  ) {}

  plan(ws: Workspace, x: GPUBuffer, routed: RoutingBuffers, tokens: number, ys: GPUBuffer): Step[] {
    const ffn = expertFFN(ws, this.pair, routedSlots(ws, routed, tokens, routed.topK, this.shape.experts, this.path), x, ys);
    return [{ outside: (encoder, signal) => this.cache.run(this.layer, encoder, { x, ids: routed.ids, tokens, topK: routed.topK, ffn }, signal) }];
  }

  /** With prefetch, reads the layer's input rows back before its attention to predict its experts (CachedExperts.ahead). */
  ahead(_ws: Workspace, x: GPUBuffer, tokens: number): Step[] {
    return this.cache.prefetching ? [{ outside: (encoder, signal) => Promise.resolve(this.cache.ahead(this.layer, encoder, x, tokens, signal)) }] : [];
  }

  /** The cache steers the layer's router toward resident experts (its `cacheAwareMargin`). */
  steer(route: (extra: Float32Array) => void): void {
    this.cache.steer(this.layer, route);
  }

  needs(tokens: number, topK: number): { bytes: number; grid: number } {
    return ffnNeeds(this.shape, tokens, topK, this.path);
  }

  /** The slot matrices are the cache's: tuned once for all layers (CachedExperts.tune). */
  async tune(): Promise<TileTrial[]> {
    return [];
  }

  /** This layer's own buffers; the slot matrices and tables are the cache's to free. */
  destroy(): void {
    this.pair.gateUpBias?.destroy();
    this.pair.downBias?.destroy();
  }
}
