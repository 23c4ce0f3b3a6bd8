// A MoE MLP: the router [E, H] (and a selection bias), the routed experts (per-expert Hub tensors stacked
// into [E, 2I, H] and [E, H, I] as they stream in, or stacked already), an optional shared expert
// (Qwen2-MoE's gated one, DeepSeek's ungated); its experts on this device (the fused backend) or, with
// external experts, on workers.
import { MoELayer } from '../../moe/layer.js';
import type { MoEConfig } from '../../moe/spec.js';
import { FORMATS } from '../../weights/format.js';
import type { ExpertMatrix } from '../../weights/matrix.js';
import type { BlockLoader, LoadContext, MLPBlock } from './block.js';

/** gate, up and down of an FFN: [I, H], [I, H], [H, I]. */
export interface FFNNames {
  gate: string;
  up: string;
  down: string;
}

export interface MoeSpec {
  config: MoEConfig;
  names: {
    router: string;
    /** per-expert [I, H] gate and up, [H, I] down; or stacked [E, 2I, H] (gate rows, then up) and [E, H, I] */
    experts: { gate(e: number): string; up(e: number): string; down(e: number): string } | { gateUp: string; down: string };
    /** [E] added to the scores for the choice only (DeepSeek-V3's e_score_correction_bias) */
    selectionBias?: string;
    /** the shared expert's FFN [S, H], [S, H], [H, S] and its gate [1, H] (none: always weight 1, as DeepSeek's) */
    shared?: FFNNames & { sharedGate?: string; intermediate: number };
  };
}

export const moe = (s: MoeSpec): BlockLoader<MLPBlock> => (ctx) => {
  const { hidden: H, numExperts: E, intermediate: I } = s.config;
  const { label, external } = ctx;
  const router = new Float32Array(E * H);
  ctx.host(s.names.router, [E, H], router);
  const local = !external && {
    gateUp: ctx.matrix({ experts: E, parts: 2, outputs: I, inner: H }, `${label} experts gate/up`, 'mlp'),
    down: ctx.matrix({ experts: E, parts: 1, outputs: H, inner: I }, `${label} experts down`, 'mlp'),
  };
  const rows = (which: 'gateUp' | 'down', name: string, shape: number[], firstRow: number) => {
    if (local) ctx.rows(name, shape, local[which], firstRow);
    else ctx.sink(name, shape, (r, raw) => external!.rows(ctx.layer, which, firstRow + r, raw), FORMATS[external!.dtype]);
  };
  const ex = s.names.experts;
  if ('gateUp' in ex) {
    rows('gateUp', ex.gateUp, [E, 2 * I, H], 0);
    rows('down', ex.down, [E, H, I], 0);
  } else {
    for (let e = 0; e < E; e++) {
      rows('gateUp', ex.gate(e), [I, H], 2 * e * I);
      rows('gateUp', ex.up(e), [I, H], (2 * e + 1) * I);
      rows('down', ex.down(e), [H, I], e * H);
    }
  }
  const shared = s.names.shared && sharedFFN(ctx, s.names.shared, H);
  let selectionBias: Float32Array | undefined;
  if (s.names.selectionBias) ctx.host(s.names.selectionBias, [E], selectionBias = new Float32Array(E));
  const weights = { router, shared, selectionBias };
  return () => (local
    ? MoELayer.create(ctx.device, s.config, { ...weights, ...local }, { label })
    : MoELayer.withExperts(ctx.device, s.config, weights, external!.backend(ctx.layer), { label }));
};

/** The shared expert's matrices and gate (where it has one), declared on the context. */
function sharedFFN(ctx: LoadContext, n: NonNullable<MoeSpec['names']['shared']>,
  H: number): { intermediate: number; gateUp: ExpertMatrix; down: ExpertMatrix; gate?: Float32Array }
{
  const S = n.intermediate;
  const f = {
    intermediate: S,
    gateUp: ctx.matrix({ experts: 1, parts: 2, outputs: S, inner: H }, `${ctx.label} shared gate/up`, 'mlp'),
    down: ctx.matrix({ experts: 1, parts: 1, outputs: H, inner: S }, `${ctx.label} shared down`, 'mlp'),
    gate: n.sharedGate ? new Float32Array(H) : undefined,
  };
  ctx.rows(n.gate, [S, H], f.gateUp, 0);
  ctx.rows(n.up, [S, H], f.gateUp, S);
  ctx.rows(n.down, [H, S], f.down, 0);
  if (n.sharedGate) ctx.host(n.sharedGate, [1, H], f.gate!);
  return f;
}

/** A dense MLP, run as a MoE layer of one expert that every token goes to with weight 1. */
export const dense = (s: { hidden: number; intermediate: number; names: FFNNames }): BlockLoader<MLPBlock> => (ctx) => {
  const { hidden: H, intermediate: I, names } = s;
  const gateUp = ctx.matrix({ experts: 1, parts: 2, outputs: I, inner: H }, `${ctx.label} mlp gate/up`, 'mlp');
  const down = ctx.matrix({ experts: 1, parts: 1, outputs: H, inner: I }, `${ctx.label} mlp down`, 'mlp');
  ctx.rows(names.gate, [I, H], gateUp, 0);
  ctx.rows(names.up, [I, H], gateUp, I);
  ctx.rows(names.down, [H, I], down, 0);
  return () =>
    MoELayer.create(ctx.device, { hidden: H, numExperts: 1, intermediate: I, topK: 1 }, { router: new Float32Array(H), gateUp, down }, { label: ctx.label });
};
