// webmoe: sparse Mixture-of-Experts on WebGPU. Browser and Node; nothing here imports Node modules.
export {
  type BatchTotals,
  Engine,
  DeviceLostError,
  EngineDisposedError,
  EngineOptionError,
  type FinishReason,
  type GenerateOptions,
  type GenerationChunk,
  type GenerationStats,
  type LoadModelOptions,
  type Prompt,
  type RoutingOptions,
  type RoutingStats,
  type RoutingStep,
  type TextLogprob,
} from './api/engine.js';
import { loadModel } from './api/load.js';
import { mlcEngineCreator } from './api/webllm.js';
export { loadModel, type LoadOptions } from './api/load.js';
export type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ChatCompletions, CompletionUsage } from './api/openai.js';
export { type ContextOverflow, ContextOverflowError } from './api/overflow.js';
export type { ChatCompletionMessageParam, ContentPart, ResponseFormat, ToolChoice } from './api/request.js';
export { CreateWebWorkerMLCEngine, type InitProgressReport, type MLCEngineConfig } from './api/webllm.js';
export { type EngineApi, engineApi, type ModelFiles, type ModelSpec } from './api/worker/engineHost.js';
export { exposeEngine, modelSpecSource } from './api/worker/exposeEngine.js';
export { createWorkerEngine, WorkerEngine, type WorkerEngineOptions } from './api/worker/workerEngine.js';
export { createDevice, type DeviceOptions } from './gpu/device.js';
export { f16BitsToF32, f32ToF16Bits, fromF16, toF16 } from './gpu/f16.js';
export { capStorageBinding, storageBindingLimit } from './gpu/limits.js';
export { cachedUrlSource, type CachedSourceOptions, DEFAULT_CACHE, type DownloadProgress, modelUrlSource } from './io/cacheSource.js';
export { type Checkpoint, type LoadProgress, openCheckpoint, type RawRows, readRows, type RowSink, streamTensors } from './io/checkpoint.js';
export { decodeToF32 } from './io/dtype.js';
export { SourceError, StorageQuotaError } from './io/error.js';
export { fileUrlsSource } from './io/fileUrlsSource.js';
export { NonFiniteWeightError } from './io/finite.js';
export { type CachedModel, deleteCachedModel, listCachedModels, type ModelCache } from './io/modelStores.js';
export { readSafetensorsHeader, SafetensorsError, type TensorInfo } from './io/safetensors.js';
export { fileListSource, type ModelFile, type ModelSource, urlSource } from './io/source.js';
export type { Activation } from './kernels/expertMatmul.js';
export { MAX_SIZES, type ModelConfig, ModelConfigError } from './model/config.js';
export { Decoder, DecoderInputError } from './model/decoder.js';
export { FAMILIES, readConfig } from './model/families/registry.js';
export { GrammarError, type GrammarSpec } from './model/grammar.js';
export { ModelLoadError } from './model/load.js';
export type { TokenLogprob } from './model/logprobs.js';
export { ModelMemoryError } from './model/memory.js';
export { NonFiniteLogitsError, Sampler, type SamplingOptions } from './model/sampling.js';
export { type ChatMessage, type ChatTemplateOptions, type ChatTool, TextTokenizer, TokenizerError } from './model/tokenizer.js';
export type { ParsedToolCall } from './model/toolCalls.js';
export { CachedExperts, ExpertCacheError, type ExpertCacheOptions } from './moe/cached/experts.js';
export type { ExpertCachePolicy } from './moe/cached/policy.js';
export type { ExpertCacheCounts, ExpertCacheStats } from './moe/cached/stats.js';
export { MoELayer, type MoELayerOptions, type RoutingBuffers } from './moe/layer.js';
export { referenceMoE, referenceRoute, relativeError, type ReferenceRouting } from './moe/reference.js';
export { runMoE, type MoEResult } from './moe/run.js';
export type { ExpertCoordinator, ExpertParallelOptions, ExpertParallelStats } from './moe/sharded/coordinator.js';
export { type Placement, PlacementError, type PlacementOptions, type WorkerKind } from './moe/sharded/placement.js';
export {
  MAX_EXPERTS,
  MAX_TOKENS,
  MoEInputError,
  type MoEConfig,
  type MoESpec,
  type MoEWeights,
  type Scoring,
  type SharedExpertWeights,
} from './moe/spec.js';
export { WorkerError } from './platform/workers.js';
/** WebLLM's CreateMLCEngine(model, { initProgressCallback }): loadModel for WebLLM apps (the model is a URL). */
export const CreateMLCEngine = mlcEngineCreator(loadModel);
export type { HostWeights } from './weights/convert.js';
export { type CheckpointStorage, FORMATS, STORAGES, type WeightDType, type WeightFormat, type WeightStorage } from './weights/format.js';
export { planChunks, type ExpertMatrix } from './weights/matrix.js';
