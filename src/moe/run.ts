// runMoE: typed arrays in, typed arrays out, one submission, for users and tests of one block.
import { readBuffers, Workspace } from '../gpu/workspace.js';
import { MoELayer, type MoELayerOptions } from './layer.js';
import { type MoESpec, validateSpec } from './spec.js';

export interface MoEResult {
  /** [T, H] */
  y: Float32Array;
  /** [T, k], best first */
  expertIds: Uint32Array;
  /** [T, k] */
  weights: Float32Array;
  /** [E] tokens routed to each expert */
  expertCounts: Uint32Array;
}

/** Runs one MoE block on the GPU. Throws MoEInputError for a bad spec, Error for a WebGPU failure. */
export async function runMoE(device: GPUDevice, spec: MoESpec, options: MoELayerOptions = {}): Promise<MoEResult> {
  validateSpec(spec);
  const { tokens: T, hidden: H, topK: k, numExperts: E } = spec;
  if (T === 0) {
    return { y: new Float32Array(0), expertIds: new Uint32Array(0), weights: new Float32Array(0), expertCounts: new Uint32Array(E) };
  }
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  const ws = new Workspace(device);
  let layer: MoELayer | undefined;
  try {
    layer = MoELayer.create(device, spec, spec, options);
    const x = ws.upload(spec.x, 'x');
    const y = ws.buffer(T * H * 4, 'y');
    const encoder = device.createCommandEncoder();
    layer.encode(encoder, x, y, T);
    const r = layer.routing();
    const [yb, ib, wb, cb] = await readBuffers(device, [y, r.ids, r.weights, r.counts], encoder);
    return {
      y: new Float32Array(yb, 0, T * H),
      expertIds: new Uint32Array(ib, 0, T * k),
      weights: new Float32Array(wb, 0, T * k),
      expertCounts: new Uint32Array(cb, 0, E),
    };
  } finally {
    const errors = [await device.popErrorScope(), await device.popErrorScope()].filter((e) => e);
    layer?.destroy();
    ws.destroy();
    if (errors.length) throw new Error(`webmoe: WebGPU error in runMoE: ${errors.map((e) => e!.message).join('; ')}`);
  }
}
