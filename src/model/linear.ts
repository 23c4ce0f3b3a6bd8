// A dense projection y [T,N] = x [T,K] · Wᵀ · scale, run by the expert kernels as one expert that
// every row is routed to: the same tiles, f16 packing and binding splits, and no second GEMM to keep.
import { blockRowsFor } from '../kernels/align.js';
import { groupedGemm, indexedGemv } from '../kernels/expertMatmul.js';
import type { Dispatch, Workspace } from '../gpu/workspace.js';
import type { ExpertMatrix } from '../weights/matrix.js';

const NONE = 0xffffffff;
/** Up to this many rows take the GEMV path, as in the MoE block. */
const GEMV_MAX_ROWS = 4;

/** Launches of y = x · Wᵀ · scale for `tokens` rows; `w` is a one-expert, one-part matrix [N, K]. */
export function linear(ws: Workspace, w: ExpertMatrix, x: GPUBuffer, y: GPUBuffer, tokens: number, scale = 1): Dispatch[] {
  const routeW = ws.upload(new Float32Array(tokens).fill(scale), 'linear scale');
  if (tokens <= GEMV_MAX_ROWS) {
    return indexedGemv(ws, w, { a: x, ids: ws.upload(new Uint32Array(tokens), 'linear rows'), routeW, out: y }, 1, tokens);
  }
  const rows = blockRowsFor(tokens, 1);
  const blocks = Math.ceil(tokens / rows);
  const sorted = Uint32Array.from({ length: blocks * rows }, (_, i) => (i < tokens ? i : NONE));
  return groupedGemm(ws, w, {
    a: x, routeW, out: y,
    sorted: ws.upload(sorted, 'linear rows'),
    blockExpert: ws.upload(new Uint32Array(blocks), 'linear blocks'),
  }, 1, blocks, rows);
}
