// The families webmoe loads, and the one that reads a given config.json.
import { type ModelConfig, ModelConfigError, validateConfig } from '../config.js';
import { checkQuantization } from './common.js';
import { deepseekV2 } from './deepseek_v2.js';
import { deepseekV3 } from './deepseek_v3.js';
import type { Family, Raw } from './family.js';
import { gptOss } from './gpt_oss.js';
import { granitemoe } from './granitemoe.js';
import { mixtral } from './mixtral.js';
import { olmoe } from './olmoe.js';
import { qwen2Moe } from './qwen2_moe.js';
import { qwen3Moe } from './qwen3_moe.js';

export const FAMILIES: readonly Family[] = [mixtral, qwen2Moe, qwen3Moe, olmoe, granitemoe, deepseekV2, deepseekV3, gptOss];

/** The family of a config.json and its validated ModelConfig; unknown families list the supported ones. */
export function readConfig(raw: Raw): { family: Family; config: ModelConfig } {
  const family = FAMILIES.find((f) => f.modelType === raw.model_type);
  if (!family) {
    const archs = Array.isArray(raw.architectures) ? ` (${raw.architectures.join(', ')})` : '';
    throw new ModelConfigError(
      `webmoe: unsupported architecture: model_type ${JSON.stringify(raw.model_type)}${archs}; supported: ` +
        FAMILIES.map((f) => `${f.modelType} (${f.architecture})`).join(', '),
    );
  }
  checkQuantization(raw, family.quantMethods);
  return { family, config: validateConfig(family.config(raw)) };
}
