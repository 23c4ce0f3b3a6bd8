// Routing at inference for the engine: a call's controls (k, top-p, capacity, expert masks) over the
// engine's defaults, set on every MoE layer for the call and undone after; and the call's routing
// telemetry, from the totals the MoE blocks sum on the GPU (pairs per expert, pairs dropped,
// tokens), read once at its end. docs/routing.md defines each figure.
import { readBuffers } from '../gpu/workspace.js';
import type { ModelConfig } from '../model/config.js';
import type { Decoder } from '../model/decoder.js';
import { type RoutingControls, validateControls } from '../moe/spec.js';
import type { WeightStorage } from '../weights/format.js';
import { swigluExpertBytes } from '../weights/matrix.js';

export interface RoutingOptions extends RoutingControls {
  /** per MoE layer (its index in the model), the experts that may be chosen (false/0: never) */
  expertMask?: Record<number, ArrayLike<boolean | number>>;
}

/** One MoE layer's routing over a call. */
export interface LayerRouting {
  layer: number;
  /** (token, expert) pairs each expert ran */
  load: number[];
  /** tokens routed (prompt and generated) */
  tokens: number;
  /** mean experts run per token */
  activePerToken: number;
  /** pairs the capacity factor dropped */
  dropped: number;
  /** experts run, summed over the forwards: each an expert that had a token in a forward (which read its weights once) */
  expertRuns: number;
  /** load imbalance: the busiest expert's load over the mean load (1: even) */
  maxOverMean: number;
  /** coefficient of variation of the load: standard deviation over mean (0: even) */
  cv: number;
  /** entropy of the load shares in bits (log2 E: even; 0: one expert takes all) */
  entropy: number;
}

export interface RoutingStats {
  layers: LayerRouting[];
  /** mean over the MoE layers of the experts run per token */
  activePerToken: number;
  /** pairs dropped in all layers */
  dropped: number;
  /** routed experts' FLOPs per token over all MoE layers: 6·H·I a pair (gate, up and down matmuls) */
  expertFlopsPerToken: number;
  /** routed expert weight bytes a decoded token reads over all MoE layers: one expert's matrices a pair */
  expertBytesPerToken: number;
  /**
   * routed expert weight bytes the forwards read, per token they routed, over all MoE layers: one
   * expert's matrices per forward in which it had a token (a prompt's tokens, or the tokens of
   * sequences decoded together, share the reads), so at most expertBytesPerToken
   */
  expertBytesReadPerToken: number;
}

/**
 * Sets the routing of a call (the engine's defaults, then the call's options field by field) on
 * every MoE layer and, for a call (`fresh`), zeroes their totals; returns what undoes the routing.
 * Errors name the option (`routing.topP`; a mask's layer).
 */
export function applyRouting(decoder: Decoder, defaults: RoutingOptions, call: RoutingOptions = {}, fresh = true): () => void {
  const E = decoder.config.experts;
  validateControls(call, E, 'routing.');
  const { expertMask, ...controls } = { ...defaults, ...call };
  const layers = decoder.moeLayers();
  const before = new Map([...layers].map(([l, m]) => [l, m.expertMask()]));
  const controlsBefore = [...layers.values()][0]?.controls() ?? {};
  const masks = new Map(Object.entries({ ...defaults.expertMask, ...call.expertMask }).map(([l, m]) => [Number(l), m]));
  decoder.setRouting(controls, masks);
  if (fresh) { for (const m of layers.values()) m.resetTotals(); }
  return () => decoder.setRouting(controlsBefore, before);
}

/** The routing of the calls since applyRouting(), per MoE layer and over the model (undefined for a dense model). */
export async function readRouting(device: GPUDevice, decoder: Decoder, c: Readonly<ModelConfig>, storage: WeightStorage): Promise<RoutingStats | undefined> {
  const layers = decoder.moeLayers();
  if (!layers.size) return undefined;
  const data = await readBuffers(device, [...layers.values()].map((m) => m.totals));
  const E = c.experts;
  const per = [...layers.keys()].map((layer, i) => layerRouting(layer, new Uint32Array(data[i], 0, E + 3)));
  const active = per.reduce((a, l) => a + l.activePerToken, 0);
  return {
    layers: per,
    activePerToken: active / per.length,
    dropped: per.reduce((a, l) => a + l.dropped, 0),
    expertFlopsPerToken: active * 6 * c.hidden * c.moeIntermediate,
    expertBytesPerToken: active * swigluExpertBytes(c.hidden, c.moeIntermediate, storage),
    expertBytesReadPerToken: per.reduce((a, l) => a + (l.tokens ? l.expertRuns / l.tokens : 0), 0) * swigluExpertBytes(c.hidden, c.moeIntermediate, storage),
  };
}

function layerRouting(layer: number, totals: Uint32Array): LayerRouting {
  const E = totals.length - 3;
  const load = Array.from(totals.subarray(0, E));
  const tokens = totals[E + 1];
  const pairs = load.reduce((a, b) => a + b, 0);
  const mean = pairs / E;
  const sd = Math.sqrt(load.reduce((a, n) => a + (n - mean) ** 2, 0) / E);
  return {
    layer,
    load,
    tokens,
    activePerToken: tokens ? pairs / tokens : 0,
    dropped: totals[E],
    expertRuns: totals[E + 2],
    maxOverMean: mean ? Math.max(...load) / mean : 0,
    cv: mean ? sd / mean : 0,
    entropy: pairs ? -load.reduce((a, n) => a + (n ? (n / pairs) * Math.log2(n / pairs) : 0), 0) : 0,
  };
}
