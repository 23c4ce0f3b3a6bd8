// Recorded work as a list of steps: kernel launches, which run in compute passes (consecutive ones
// share a pass), and steps outside any pass: a clear, a copy, or work that leaves the GPU (submits
// what was recorded, works on the host, and resolves to the encoder to go on with).
import type { Dispatch } from './workspace.js';

export interface Outside {
  /** `signal`: the call's, for work that leaves the GPU (an expert read from the model source) to stop on. */
  outside(encoder: GPUCommandEncoder, signal?: AbortSignal): void | Promise<GPUCommandEncoder>;
}

export type Step = Dispatch | Outside;

export const clearStep = (buffer: GPUBuffer): Outside => ({ outside: (encoder) => encoder.clearBuffer(buffer) });

/**
 * Records `steps` into `encoder`; synchronous unless a step leaves the GPU, in which case it resolves
 * to the encoder the work continues in. `signal` goes to the steps outside the GPU.
 */
export function recordSteps(encoder: GPUCommandEncoder, steps: readonly Step[], label: string, signal?: AbortSignal): void | Promise<GPUCommandEncoder> {
  let pass: GPUComputePassEncoder | undefined;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i];
    if (typeof step === 'function') {
      pass ??= encoder.beginComputePass({ label });
      step(pass);
      continue;
    }
    pass?.end();
    pass = undefined;
    const next = step.outside(encoder, signal);
    if (next) {
      return next.then(async (e) => (await recordSteps(e, steps.slice(i + 1), label, signal)) ?? e);
    }
  }
  pass?.end();
}
