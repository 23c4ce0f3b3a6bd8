import type { Dispatch, Workspace } from '../gpu/workspace.js';
import { defineKernel } from './kernel.js';

const WG = 64;

export const COMBINE = defineKernel('combine', {
  files: ['combine'],
  uniforms: { hidden: 'u32', topK: 'u32' },
  bindings: { ys: 'read', ids: 'read', sharedY: 'read', y: 'read_write' },
  overrides: ['HAS_SHARED'],
});

/** y [T,H] = Σ_j ys [T·k, H] over the slots with an expert (ids [T·k] not NONE) (+ shared [T,H]). */
export function combineKernel(
  ws: Workspace,
  b: { ys: GPUBuffer; ids: GPUBuffer; shared?: GPUBuffer; y: GPUBuffer },
  tokens: number,
  hidden: number,
  topK: number,
): Dispatch {
  return COMBINE.launch(ws, {
    uniforms: { hidden, topK },
    // Without a shared expert its binding is never read: bind ys there to fill the slot.
    buffers: { ys: b.ys, ids: b.ids, sharedY: b.shared ?? b.ys, y: b.y },
    grid: [Math.ceil(hidden / WG), tokens],
    overrides: { HAS_SHARED: b.shared ? 1 : 0 },
  });
}
