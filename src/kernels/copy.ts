import type { Dispatch, Workspace } from '../gpu/workspace.js';
import { defineKernel } from './kernel.js';

const WG = 256;
const MAX_GRID = 65535;

export const COPY = defineKernel('copy', {
  files: ['copy'],
  uniforms: { count: 'u32' },
  bindings: { src: 'read', dst: 'read_write' },
});

/** dst = src for `bytes` bytes (a multiple of 16). */
export function copyKernel(ws: Workspace, src: GPUBuffer, dst: GPUBuffer, bytes: number): Dispatch {
  const count = bytes / 16;
  const groups = Math.ceil(count / WG);
  return COPY.launch(ws, { uniforms: { count }, buffers: { src, dst }, grid: [Math.min(groups, MAX_GRID), Math.ceil(groups / MAX_GRID)] });
}
