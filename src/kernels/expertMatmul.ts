// The expert kernels: a grouped GEMM over expert-sorted rows (prefill) and an indexed GEMV that reads
// each slot's expert on the GPU (decode). One launch per weight binding (chunk) of the matrix.
import type { Dispatch, Workspace } from '../gpu/workspace.js';
import { FORMAT_PRELUDES, STORAGES } from '../weights/format.js';
import type { ExpertChunk, ExpertMatrix } from '../weights/matrix.js';
import type { BlockRows } from './align.js';
import { defineKernel } from './kernel.js';
import { gemmShuffleWidth, gemmTiles, type GemmTiles, gemvColumns, gemvSlots, gemvTiles, type GemvTiles } from './tiles.js';

/**
 * The gated epilogue of a gate/up matrix (act_*.wgsl): gated(gate, up). 'swiglu': silu(gate)·up;
 * 'swiglu_clamped' (gpt-oss): gate' · sigmoid(alpha·gate') · (up' + 1), gate' = min(gate, limit),
 * up' = clamp(up, ±limit).
 */
export type Activation = { kind: 'swiglu' } | { kind: 'swiglu_clamped'; alpha: number; limit: number };
const ACTIVATIONS: Record<Activation['kind'], string> = { swiglu: 'act_swiglu', swiglu_clamped: 'act_swiglu_clamped' };
export const SWIGLU: Activation = { kind: 'swiglu' };

/** What a matrix adds to its products besides the routing weight. */
export interface Epilogue {
  /** The gated activation (read by a gate/up matrix only). Default SwiGLU. */
  activation?: Activation;
  /**
   * f32 biases by expert id, [E][P][N] (N = the matrix's outputs; gate/up: P = 2, gate's then up's):
   * added before the activation, or before the routing weight multiplies a down output. Indexed by
   * expert, not slot, since they are small: every expert's stay resident whatever the matrix holds.
   */
  bias?: GPUBuffer;
}

/** expert_common.wgsl's Params: one weight binding. */
const PARAMS = { s0: 'u32', s1: 'u32', n0: 'u32', n1: 'u32', K: 'u32', outStride: 'u32', topK: 'u32', slots: 'u32' } as const;
/** expert_common.wgsl's bindings (a, w, slotOf, bias), then the kernel's. */
const INPUTS = { a: 'read', w: 'read', slotOf: 'read', bias: 'read' } as const;

export const GEMM = defineKernel('moe_gemm', {
  files: ['expert_common', 'moe_gemm'],
  uniforms: PARAMS,
  bindings: { ...INPUTS, sorted: 'read', blockExpert: 'read', routeW: 'read', out: 'read_write' },
  preludes: [...FORMAT_PRELUDES, ...Object.values(ACTIVATIONS), 'half_f32', 'half_f16', 'place_local', 'place_subgroup', 'inputs_shared', 'inputs_subgroup'],
  overrides: ['GATED', 'BIASED', 'SWIGLU_ALPHA', 'SWIGLU_LIMIT', 'BM', 'BK', 'AW'],
});

export const GEMV = defineKernel('moe_gemv', {
  files: ['expert_common', 'moe_gemv'],
  uniforms: PARAMS,
  bindings: { ...INPUTS, ids: 'read', routeW: 'read', out: 'read_write' },
  preludes: [...FORMAT_PRELUDES, ...Object.values(ACTIVATIONS), 'place_local', 'place_subgroup', 'lanes_shared', 'lanes_subgroup'],
  overrides: ['GATED', 'BIASED', 'SWIGLU_ALPHA', 'SWIGLU_LIMIT', 'LANES', 'ROWS', 'SLOTS'],
});

export interface ExpertMatmulBuffers {
  a: GPUBuffer; // GEMM 1: x [T,K]; GEMM 2: h [rows,K]
  slotOf: GPUBuffer; // [E] u32: the matrix slot of each expert, NONE where the matrix does not hold it
  routeW: GPUBuffer; // [T·k] routing weights (GEMM 2's epilogue)
  out: GPUBuffer; // GEMM 1: h [rows, N]; GEMM 2: ys [T·k, N]
}

/** Grouped GEMM over expert-sorted rows in blocks of `rows`: one dispatch per weight binding (chunk). */
export function groupedGemm(
  ws: Workspace,
  m: ExpertMatrix,
  b: ExpertMatmulBuffers & { sorted: GPUBuffer; blockExpert: GPUBuffer },
  topK: number,
  blocks: number,
  rows: BlockRows,
  t: GemmTiles = gemmTiles(ws.device, m, rows),
  e: Epilogue = {},
): Dispatch[] {
  const preludes = [...matrixPreludes(m, e), t.f16 ? 'half_f16' : 'half_f32',
    ...(t.shuffle ? ['place_subgroup', 'inputs_subgroup'] : ['place_local', 'inputs_shared'])];
  const overrides = { ...epilogueOverrides(m, e), BM: rows, BK: t.bk, ...(t.shuffle ? { AW: gemmShuffleWidth(ws.device, rows, t) } : {}) };
  const columns = 1024 / rows; // moe_gemm.wgsl BN
  return m.chunks.map((c) =>
    GEMM.launch(ws, {
      uniforms: params(m, c, topK, 0), // the GEMM's rows are `sorted`'s
      preludes,
      overrides,
      buffers: { ...inputs(b, c, e), sorted: b.sorted, blockExpert: b.blockExpert, routeW: b.routeW, out: b.out },
      grid: [Math.ceil((c.n1 - c.n0) / columns), blocks],
    })
  );
}

/**
 * Indexed GEMV for few tokens: reads each slot's expert from `ids` on the GPU. `oneExpert`: every
 * slot runs the same expert, so a workgroup computes several slots from one read of the weights.
 */
export function indexedGemv(
  ws: Workspace,
  m: ExpertMatrix,
  b: ExpertMatmulBuffers & { ids: GPUBuffer },
  topK: number,
  slots: number,
  t: GemvTiles = gemvTiles(ws.device, m),
  e: Epilogue = {},
  oneExpert = false,
): Dispatch[] {
  const preludes = [...matrixPreludes(m, e), ...(t.shuffle ? ['place_subgroup', 'lanes_subgroup'] : ['place_local', 'lanes_shared'])];
  const group = oneExpert ? gemvSlots(t, slots) : 1;
  const overrides = { ...epilogueOverrides(m, e), LANES: t.lanes, ROWS: t.rows, SLOTS: group };
  return m.chunks.map((c) =>
    GEMV.launch(ws, {
      uniforms: params(m, c, topK, slots),
      preludes,
      overrides,
      buffers: { ...inputs(b, c, e), ids: b.ids, routeW: b.routeW, out: b.out },
      grid: [Math.ceil((c.n1 - c.n0) / gemvColumns(t)), Math.ceil(slots / group)],
    })
  );
}

/** The activation a gate/up matrix applies; a down matrix reads none and takes SwiGLU's, so its pipelines are shared. */
const activationOf = (m: ExpertMatrix, e: Epilogue): Activation => (m.parts === 2 ? e.activation ?? SWIGLU : SWIGLU);

/** The matrix's weight format, and the gated epilogue. */
const matrixPreludes = (m: ExpertMatrix, e: Epilogue) => [...STORAGES[m.dtype].prelude, ACTIVATIONS[activationOf(m, e).kind]];

function epilogueOverrides(m: ExpertMatrix, e: Epilogue) {
  const act = activationOf(m, e);
  return {
    GATED: m.parts === 2 ? 1 : 0,
    BIASED: e.bias ? 1 : 0,
    ...(act.kind === 'swiglu_clamped' && { SWIGLU_ALPHA: act.alpha, SWIGLU_LIMIT: act.limit }),
  };
}

/** expert_common.wgsl's buffers for chunk c; without biases, a buffer the kernel never reads fills the bias binding. */
const inputs = (b: ExpertMatmulBuffers, c: ExpertChunk, e: Epilogue) => ({ a: b.a, w: c.buffer, slotOf: b.slotOf, bias: e.bias ?? b.slotOf });

const params = (m: ExpertMatrix, c: ExpertChunk, topK: number, slots: number) => ({
  s0: c.e0,
  s1: c.e1,
  n0: c.n0,
  n1: c.n1,
  K: m.inner,
  outStride: m.outputs,
  topK,
  slots,
});
