// The one way experts run on rows. A call's routing slots (token × k, each with an expert and a
// weight) reach the experts by one of two paths: decode's indexed GEMV reads each slot's expert on the
// GPU; prefill's grouped GEMM runs on the slots sorted by expert and padded to its tile height. The
// kernels find an expert's rows through the matrices' slot table. Used by the MoE block's experts,
// dense projections (one expert every row goes to), the shard workers, the tile trial and the benchmark.
import { alignKernel, type BlockRows, blockRowsFor, maxBlocks } from '../kernels/align.js';
import { type Activation, type Epilogue, groupedGemm, indexedGemv } from '../kernels/expertMatmul.js';
import type { GemmTiles, GemvTiles } from '../kernels/tiles.js';
import type { Dispatch, Workspace } from '../gpu/workspace.js';
import type { ExpertMatrix } from '../weights/matrix.js';

/** Calls on at most this many tokens take the GEMV (decode) path, unless told otherwise. */
const GEMV_MAX_TOKENS = 4;

/** The kernels' NONE: a slot table's entry for an expert its matrix does not hold, a padding row. */
export const NONE = 0xffffffff;

/** How the routing slots of one call reach the experts. */
export interface Slots {
  tokens: number;
  topK: number;
  /** [T·k] u32: the expert of each slot */
  ids: GPUBuffer;
  /** [T·k] f32: the weight of each slot, applied by the second matrix */
  weights: GPUBuffer;
  /** The GEMM path: slots sorted by expert, each expert's run padded to `rows`. Absent: the GEMV path. */
  gemm?: { rows: BlockRows; blocks: number; sorted: GPUBuffer; blockExpert: GPUBuffer };
  /** Launches that must run before the experts (the alignment). */
  dispatches: Dispatch[];
  /** Every slot runs the same expert: the GEMV shares each weight read among several slots. */
  oneExpert: boolean;
}

/** The slot table of a matrix that holds experts 0 … n−1 in order. */
export const identitySlots = (n: number): Uint32Array<ArrayBuffer> => Uint32Array.from({ length: n }, (_, e) => e);

/** A layer's experts on the GPU: gate/up [slots, 2I, H] and down [slots, H, I] behind one slot table. */
export interface ExpertPair {
  gateUp: ExpertMatrix;
  down: ExpertMatrix;
  /** [E] u32: the slot of each expert, NONE where not held */
  slotOf: GPUBuffer;
  /** The gated activation. Default SwiGLU. */
  activation?: Activation;
  /** f32 by expert id (gpt-oss): [E, 2I] (each expert's I gate biases, then I up biases) and [E, H] */
  gateUpBias?: GPUBuffer;
  downBias?: GPUBuffer;
}

export interface PathOptions {
  /** Take the GEMV path (true) or the GEMM path (false). Default: tokens ≤ decodeMaxTokens. */
  gemv?: boolean;
  decodeMaxTokens?: number;
  /** GEMM tile height. Default: about the rows each expert gets. */
  rows?: BlockRows;
}

/** The path of a call, its tile height and worst-case blocks, and the rows of the intermediate h. */
export function slotShape(tokens: number, topK: number, experts: number, o: PathOptions = {}) {
  const slots = tokens * topK;
  const gemv = o.gemv ?? tokens <= (o.decodeMaxTokens ?? GEMV_MAX_TOKENS);
  const rows = o.rows ?? blockRowsFor(slots, experts);
  const blocks = maxBlocks(slots, experts, rows);
  return { gemv, rows, blocks, hRows: gemv ? slots : blocks * rows, grid: gemv ? slots : blocks };
}

/** Slots routed on the GPU (the router's ids, weights and per-expert counts), sorted there for the GEMM. */
export function routedSlots(
  ws: Workspace,
  r: { ids: GPUBuffer; weights: GPUBuffer; counts: GPUBuffer },
  tokens: number,
  topK: number,
  experts: number,
  o: PathOptions = {},
): Slots {
  const { gemv, rows, blocks } = slotShape(tokens, topK, experts, o);
  const base = { tokens, topK, ids: r.ids, weights: r.weights, oneExpert: experts === 1 };
  if (gemv) return { ...base, dispatches: [] };
  const sorted = ws.buffer(blocks * rows * 4, 'sorted slots');
  const blockExpert = ws.buffer(blocks * 4, 'block experts');
  return {
    ...base,
    gemm: { rows, blocks, sorted, blockExpert },
    dispatches: [alignKernel(ws, { ids: r.ids, counts: r.counts, sorted, blockExpert }, tokens * topK, experts, rows)],
  };
}

/**
 * Slots whose experts and weights are known on the host, for work of a fixed shape (a dense
 * projection: every row on expert 0; a tile trial): uploaded once, sorted on the host.
 */
export function fixedSlots(ws: Workspace, ids: Uint32Array, weights: Float32Array, tokens: number, topK: number, o: PathOptions = {}): Slots {
  const experts = Math.max(0, ...ids) + 1;
  const { gemv, rows } = slotShape(tokens, topK, experts, o);
  const oneExpert = ids.every((e) => e === ids[0]);
  const base = { tokens, topK, ids: ws.upload(ids, 'slot experts'), weights: ws.upload(weights, 'slot weights'), dispatches: [], oneExpert };
  if (gemv) return base;
  // Each expert's slots in order, its run padded to whole blocks (what align.wgsl does on the GPU).
  const byExpert = Array.from({ length: experts }, () => [] as number[]);
  ids.forEach((e, s) => byExpert[e].push(s));
  const sorted: number[] = [];
  const blockExpert: number[] = [];
  byExpert.forEach((list, e) => {
    const blocks = Math.ceil(list.length / rows);
    for (let i = 0; i < blocks * rows; i++) sorted.push(i < list.length ? list[i] : NONE);
    for (let b = 0; b < blocks; b++) blockExpert.push(e);
  });
  return {
    ...base,
    gemm: {
      rows,
      blocks: blockExpert.length,
      sorted: ws.upload(Uint32Array.from(sorted), 'sorted slots'),
      blockExpert: ws.upload(Uint32Array.from(blockExpert), 'block experts'),
    },
  };
}

/** Rows of the intermediate h [rows, I] between the two matrices: one a slot (GEMV) or a sorted row (GEMM). */
export const hRows = (s: Slots): number => (s.gemm ? s.gemm.blocks * s.gemm.rows : s.tokens * s.topK);

/**
 * Launches of one matrix on the slots: the GEMM on the sorted rows or the GEMV on each slot. `a` is
 * x [T, K] (a gate/up matrix: each slot reads its token's row) or h [hRows, K]; `out` is h or ys [T·k, N].
 */
export function expertMatmul(
  ws: Workspace,
  m: ExpertMatrix,
  slotOf: GPUBuffer,
  s: Slots,
  a: GPUBuffer,
  out: GPUBuffer,
  tiles?: GemvTiles | GemmTiles,
  epilogue?: Epilogue,
): Dispatch[] {
  const io = { a, slotOf, routeW: s.weights, out };
  return s.gemm
    ? groupedGemm(ws, m, { ...io, sorted: s.gemm.sorted, blockExpert: s.gemm.blockExpert }, s.topK, s.gemm.blocks, s.gemm.rows, tiles as GemmTiles | undefined,
      epilogue)
    : indexedGemv(ws, m, { ...io, ids: s.ids }, s.topK, s.tokens * s.topK, tiles as GemvTiles | undefined, epilogue, s.oneExpert);
}

/**
 * ys [T·k, H] = weight · (down(gated(gate/up · x + bias)) + bias) of each slot: the alignment, then
 * both matrices. The down bias is added in the down matrix's epilogue, where the slot's expert and
 * weight are at hand, rather than in the combine, which stays a plain sum (and every backend's).
 */
export function expertFFN(ws: Workspace, e: ExpertPair, s: Slots, x: GPUBuffer, ys: GPUBuffer): Dispatch[] {
  const h = ws.buffer(hRows(s) * e.gateUp.outputs * 4, 'h');
  return [
    ...s.dispatches,
    ...expertMatmul(ws, e.gateUp, e.slotOf, s, x, h, undefined, { activation: e.activation, bias: e.gateUpBias }),
    ...expertMatmul(ws, e.down, e.slotOf, s, h, ys, undefined, { bias: e.downBias }),
  ];
}
