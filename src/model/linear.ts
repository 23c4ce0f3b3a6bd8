// A dense projection y [T,N] = (x [T,K] · Wᵀ + bias) · scale, run by the expert kernels as one expert that
// every row is routed to: the same tiles, weight formats and binding splits, and no second GEMM to keep.
import type { Dispatch, Workspace } from '../gpu/workspace.js';
import { expertMatmul, fixedSlots, identitySlots } from '../moe/matmul.js';
import type { ExpertMatrix } from '../weights/matrix.js';

/**
 * Launches of y = (x · Wᵀ + bias) · scale for `tokens` rows; `w` is a one-expert, one-part matrix
 * [N, K]; `bias` [N] (f32) is the expert kernels' bias epilogue.
 */
export function linear(ws: Workspace, w: ExpertMatrix, x: GPUBuffer, y: GPUBuffer, tokens: number, scale = 1, bias?: GPUBuffer): Dispatch[] {
  const slots = fixedSlots(ws, new Uint32Array(tokens), new Float32Array(tokens).fill(scale), tokens, 1);
  return expertMatmul(ws, w, ws.upload(identitySlots(1), 'slot table'), slots, x, y, undefined, { bias });
}
