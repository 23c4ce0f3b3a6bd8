/// <reference types="@webgpu/types" preserve="true" />
// webmoe: sparse Mixture-of-Experts on WebGPU. Browser and Node; nothing here imports Node modules.
export { runMoE, type MoEResult } from './moe/run.js';
export { referenceMoE, referenceRoute, relativeError, type ReferenceRouting } from './moe/reference.js';
export { MoELayer, type MoELayerOptions, type RoutingBuffers } from './moe/layer.js';
export {
  MAX_EXPERTS, MAX_TOKENS, MoEInputError,
  type MoEConfig, type MoESpec, type MoEWeights, type Scoring, type SharedExpertWeights,
} from './moe/spec.js';
export { planChunks, type ExpertMatrix, type HostWeights, type WeightDType } from './moe/weights.js';
export { capStorageBinding, storageBindingLimit } from './gpu/limits.js';
export { createDevice, type DeviceOptions } from './gpu/device.js';
export { f16BitsToF32, f32ToF16Bits, fromF16, toF16 } from './gpu/f16.js';
