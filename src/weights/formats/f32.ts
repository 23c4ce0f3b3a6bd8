// f32 weights: a row is its values as they are (shaders/weight_f32.wgsl).
import type { WeightFormat } from '../format.js';

export const F32: WeightFormat = {
  name: 'f32',
  prelude: ['weight_f32', 'weight_run8'],
  narrow: false,
  sourceDType: 'F32',
  rowBytes: (inner) => 4 * inner,
  pack: (values) => new Uint8Array(Float32Array.from(values).buffer),
  unpack: (bytes) => new Float32Array(Uint8Array.from(bytes).buffer),
};
