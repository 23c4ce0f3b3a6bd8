// f16 weights: a row is its values rounded to f16 (ties to even), two a word, rows back to back
// (shaders/weight_f16.wgsl). Half the bytes of f32 on any device: no shader-f16 needed to read them.
import { fromF16, toF16 } from '../../gpu/f16.js';
import type { WeightFormat } from '../format.js';

export const F16: WeightFormat = {
  name: 'f16',
  prelude: ['weight_f16', 'weight_run8'],
  narrow: true,
  sourceDType: 'F16',
  rowBytes: (inner) => 2 * inner,
  pack: (values) => new Uint8Array(toF16(values).buffer),
  unpack: (bytes) => fromF16(new Uint16Array(Uint8Array.from(bytes).buffer)),
};
