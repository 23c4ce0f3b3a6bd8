// A MoE MLP: the router [E, H] (and its bias, or a selection bias), the routed experts (per-expert Hub
// tensors stacked into [E, 2I, H] and [E, H, I] as they stream in, stacked already, or as gpt-oss stores
// them: input-major, transposed on the way, or MXFP4, kept so) with their biases where the family has
// them, an optional shared expert (Qwen2-MoE's gated one, DeepSeek's ungated); its experts on this
// device (the fused backend) or, with external experts, on workers.
import { MoELayer } from '../../moe/layer.js';
import type { MoEConfig } from '../../moe/spec.js';
import { decodeToF32 } from '../../io/dtype.js';
import { storedRows } from '../../weights/convert.js';
import { STORAGES } from '../../weights/format.js';
import { type ExpertMatrix, writeExpertRows } from '../../weights/matrix.js';
import { ModelConfigError } from '../config.js';
import type { BlockLoader, LoadContext, MLPBlock } from './block.js';
import { inputMajorExperts, interleavedRow, splitInterleaved } from './expertLayouts.js';

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
    /** [E] added to the router's logits (gpt-oss) */
    routerBias?: string;
    /**
     * per-expert [I, H] gate and up, [H, I] down; or stacked [E, 2I, H] (gate rows, then up) and [E, H, I];
     * or gpt-oss's, gate and up interleaved along the outputs (2i: gate i, 2i + 1: up i): stacked
     * input-major, gate/up [E, H, 2I] and down [E, I, H], or MXFP4 blocks and scales of [E, 2I, H] and
     * [E, H, I] (the experts then stay MXFP4 whatever the dtype)
     */
    experts:
      | { gate(e: number): string; up(e: number): string; down(e: number): string }
      | { gateUp: string; down: string }
      | { inputMajor: { gateUp: string; down: string } }
      | { mxfp4: { gateUp: Mxfp4Names; down: Mxfp4Names } };
    /** biases [E, 2I] (laid out as the experts' gate/up outputs: interleaved for gpt-oss's) and [E, H] */
    expertBias?: { gateUp: string; down: string };
    /** [E] added to the scores for the choice only (DeepSeek-V3's e_score_correction_bias) */
    selectionBias?: string;
    /** the shared expert's FFN [S, H], [S, H], [H, S] and its gate [1, H] (none: always weight 1, as DeepSeek's) */
    shared?: FFNNames & { sharedGate?: string; intermediate: number };
  };
}

/** An MXFP4 weight's two Hub tensors: blocks [E, R, K/32, 16] and scales [E, R, K/32], U8. */
export interface Mxfp4Names {
  blocks: string;
  scales: string;
}

export const moe = (s: MoeSpec): BlockLoader<MLPBlock> => (ctx) => {
  const { hidden: H, numExperts: E, intermediate: I } = s.config;
  const { label, external } = ctx;
  const ex = s.names.experts;
  const interleaved = 'inputMajor' in ex || 'mxfp4' in ex;
  // MXFP4 experts stay so (the file's bytes), and only they are stored so.
  if (external && (external.dtype === 'mxfp4') !== ('mxfp4' in ex)) {
    throw new ModelConfigError(
      `webmoe: ${label}: the external experts store ${external.dtype}, the checkpoint's experts are ${'mxfp4' in ex ? 'MXFP4' : 'not MXFP4'}`,
    );
  }
  const router = new Float32Array(E * H);
  ctx.host(s.names.router, [E, H], router);
  const storage = 'mxfp4' in ex ? 'mxfp4' : undefined;
  const local = !external && {
    gateUp: ctx.matrix({ experts: E, parts: 2, outputs: I, inner: H }, `${label} experts gate/up`, 'mlp', storage),
    down: ctx.matrix({ experts: E, parts: 1, outputs: H, inner: I }, `${label} experts down`, 'mlp', storage),
  };
  const rows = (which: 'gateUp' | 'down', name: string, shape: number[], firstRow: number) => {
    if (local) ctx.rows(name, shape, local[which], firstRow);
    else ctx.sink(name, shape, (r, raw) => external!.rows(ctx.layer, which, firstRow + r, raw), STORAGES[external!.dtype]);
  };
  if ('mxfp4' in ex) {
    // The file's bytes, to this device's matrices or plane by plane to the external experts.
    const into = (which: 'gateUp' | 'down') =>
      local ? local[which] : (plane: number, row: number, bytes: Uint8Array) => external!.plane(ctx.layer, which, plane, row, bytes);
    const { gateUp, down } = ex.mxfp4;
    ctx.mxfp4Rows(gateUp.blocks, gateUp.scales, [E, 2 * I, H], into('gateUp'), interleavedRow(I));
    ctx.mxfp4Rows(down.blocks, down.scales, [E, H, I], into('down'));
  } else if ('inputMajor' in ex) {
    // Transposed on the host, one expert at a time.
    for (const [which, name, K, N, P] of [['gateUp', ex.inputMajor.gateUp, H, I, 2], ['down', ex.inputMajor.down, I, H, 1]] as const) {
      ctx.sink(name, [E, K, P * N], inputMajorExperts(name, K, N, P, (row, raw) =>
        local
          ? writeExpertRows(ctx.device, local[which], row, storedRows(STORAGES[local[which].dtype], raw, K, name))
          : external!.rows(ctx.layer, which, row, raw)));
    }
  } else if ('gateUp' in ex) {
    rows('gateUp', ex.gateUp, [E, 2 * I, H], 0);
    rows('down', ex.down, [E, H, I], 0);
  } else {
    for (let e = 0; e < E; e++) {
      rows('gateUp', ex.gate(e), [I, H], 2 * e * I);
      rows('gateUp', ex.up(e), [I, H], (2 * e + 1) * I);
      rows('down', ex.down(e), [H, I], e * H);
    }
  }
  // The experts' biases, gate/up as the matrices order their rows (gate, then up): kept for the
  // fused backend, or handed to the external experts as they stream in.
  const bias = !external && s.names.expertBias && { gateUp: new Float32Array(E * 2 * I), down: new Float32Array(E * H) };
  for (const [which, width] of [['gateUp', 2 * I], ['down', H]] as const) {
    const name = s.names.expertBias?.[which];
    if (!name) continue;
    ctx.sink(name, [E, width], (r, raw) => {
      const decoded = decodeToF32(raw.bytes, raw.dtype, name);
      const values = which === 'gateUp' && interleaved ? splitInterleaved(decoded, I) : decoded;
      if (bias) bias[which].set(values, r * width);
      else return external!.bias(ctx.layer, which, r, values);
    });
  }
  const shared = s.names.shared && sharedFFN(ctx, s.names.shared, H);
  let routerBias: Float32Array | undefined;
  if (s.names.routerBias) ctx.host(s.names.routerBias, [E], routerBias = new Float32Array(E));
  let selectionBias: Float32Array | undefined;
  if (s.names.selectionBias) ctx.host(s.names.selectionBias, [E], selectionBias = new Float32Array(E));
  const weights = { router, routerBias, shared, selectionBias };
  if (external?.source && ctx.reread) {
    // Expert e's tensors and runs of rows: e of E of a stacked tensor, or the whole of its own.
    const tensorsOf = (e: number): [string, number, number][] => {
      if ('mxfp4' in ex) return [ex.mxfp4.gateUp.blocks, ex.mxfp4.gateUp.scales, ex.mxfp4.down.blocks, ex.mxfp4.down.scales].map((n) => [n, e, E]);
      if ('inputMajor' in ex) return [[ex.inputMajor.gateUp, e, E], [ex.inputMajor.down, e, E]];
      if ('gateUp' in ex) return [[ex.gateUp, e, E], [ex.down, e, E]];
      return [[ex.gate(e), 0, 1], [ex.up(e), 0, 1], [ex.down(e), 0, 1]];
    };
    const { source, rows: reread, later } = ctx.reread;
    if (external.onDemand) { for (let e = 0; e < E; e++) for (const [name] of tensorsOf(e)) later(name); }
    external.source(ctx.layer, {
      name: source,
      router,
      routerBias,
      selectionBias,
      // In turn, not at once: a sink may gather an expert's rows (input-major experts).
      read: async (e, signal) => {
        for (const [name, part, of] of tensorsOf(e)) await reread(name, part, of, signal);
      },
    });
  }
  return () => (local
    ? MoELayer.create(ctx.device, s.config, {
      ...weights,
      ...local,
      ...(bias && { gateUpBias: bias.gateUp, downBias: bias.down }),
    }, { label })
    : MoELayer.withExperts(ctx.device, s.config, weights, external!.backend(ctx.layer), { label }));
};

/** An FFN's gate/up [2I, H] and down [H, I] matrices (one expert), declared on the context. */
function ffn(ctx: LoadContext, names: FFNNames, H: number, I: number, what: string): { gateUp: ExpertMatrix; down: ExpertMatrix } {
  const gateUp = ctx.matrix({ experts: 1, parts: 2, outputs: I, inner: H }, `${ctx.label} ${what} gate/up`, 'mlp');
  const down = ctx.matrix({ experts: 1, parts: 1, outputs: H, inner: I }, `${ctx.label} ${what} down`, 'mlp');
  ctx.rows(names.gate, [I, H], gateUp, 0);
  ctx.rows(names.up, [I, H], gateUp, I);
  ctx.rows(names.down, [H, I], down, 0);
  return { gateUp, down };
}

/** The shared expert's matrices and gate (where it has one), declared on the context. */
function sharedFFN(ctx: LoadContext, n: NonNullable<MoeSpec['names']['shared']>,
  H: number): { intermediate: number; gateUp: ExpertMatrix; down: ExpertMatrix; gate?: Float32Array }
{
  const f = { intermediate: n.intermediate, ...ffn(ctx, n, H, n.intermediate, 'shared'), gate: n.sharedGate ? new Float32Array(H) : undefined };
  if (n.sharedGate) ctx.host(n.sharedGate, [1, H], f.gate!);
  return f;
}

/** A dense MLP, run as a MoE layer of one expert that every token goes to with weight 1. */
export const dense = (s: { hidden: number; intermediate: number; names: FFNNames }): BlockLoader<MLPBlock> => (ctx) => {
  const { hidden: H, intermediate: I } = s;
  const { gateUp, down } = ffn(ctx, s.names, H, I, 'mlp');
  return () =>
    MoELayer.create(ctx.device, { hidden: H, numExperts: 1, intermediate: I, topK: 1 }, { router: new Float32Array(H), gateUp, down }, { label: ctx.label });
};
