// A model family: how its config.json reads into the model's settings, and, per layer, which attention
// and which MLP block it has with the names of their tensors. One file a family beside this one
// (registry.ts lists them); the blocks (../blocks/) and the decoder loop are shared.
import type { AttentionBlock, BlockLoader, MLPBlock } from '../blocks/block.js';
import type { ModelConfig } from '../config.js';

export type Raw = Record<string, unknown>;

export interface LayerSpec {
  /** RMSNorm weights [H] before the attention and before the MLP */
  inputNorm: string;
  postNorm: string;
  attention: BlockLoader<AttentionBlock>;
  mlp: BlockLoader<MLPBlock>;
}

export interface Family {
  modelType: string;
  architecture: string;
  /**
   * The quant_method values of a quantization_config whose tensors the family loads; any other
   * quantization_config is refused (checkQuantization in common.ts).
   */
  quantMethods?: readonly string[];
  /** config.json → the model's settings (readConfig validates them). */
  config(raw: Raw): ModelConfig;
  /** The blocks of layer l, with their tensors' names. */
  layer(c: ModelConfig, l: number): LayerSpec;
  /** The embedding [V, H], the final RMSNorm [H] and lm_head [V, H] (absent when tied). */
  tensors: { embed: string; finalNorm: string; lmHead: string };
}
