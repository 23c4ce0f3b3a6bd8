// The tiny Hub-layout checkpoints made by scripts/fixtures/make_models.py, and their golden logits
// (a float64 PyTorch reference of each family's modeling code).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openCheckpoint } from '../../src/io/checkpoint.js';
import { nodeDirSource } from '../../src/io/nodeSource.js';
import type { Decoder } from '../../src/model/decoder.js';
import { readConfig } from '../../src/model/families/registry.js';
import { type DecoderLoadOptions, loadDecoder } from '../../src/model/load.js';

export const MODELS_DIR = 'test/fixtures/models';
export const FAMILY_MODELS = ['mixtral', 'qwen2_moe', 'qwen3_moe', 'olmoe', 'granitemoe', 'deepseek_v2_lite', 'deepseek_v2', 'deepseek_v3', 'mixtral_sliding',
  'qwen2_moe_sliding', 'qwen3_moe_yarn', 'olmoe_clip', 'gpt_oss'];
/** Models whose attention slides: their long.json holds a prompt well past the windows' rings. */
export const SLIDING_MODELS = ['mixtral_sliding', 'qwen2_moe_sliding', 'gpt_oss', 'gpt_oss_mxfp4'];
/** Other storage: F16, BF16, MXFP4 experts (gpt-oss as the Hub ships it). */
export const DTYPE_MODELS = ['qwen3_moe_f16', 'olmoe_bf16', 'gpt_oss_mxfp4'];

export interface Golden {
  tokens: number[];
  logits: number[][];
}

export const modelDir = (name: string): string => join(MODELS_DIR, name);

/** The 7-token golden, or `long` (SLIDING_MODELS): a longer prompt. */
export function golden(name: string, which: 'golden' | 'long' = 'golden'): Golden {
  return JSON.parse(readFileSync(join(modelDir(name), `${which}.json`), 'utf8')) as Golden;
}

export async function fixtureDecoder(device: GPUDevice, name: string, options?: DecoderLoadOptions): Promise<Decoder> {
  const ckpt = await openCheckpoint(nodeDirSource(modelDir(name)));
  const { family, config } = readConfig(ckpt.config);
  return loadDecoder(device, ckpt, family, config, options);
}
