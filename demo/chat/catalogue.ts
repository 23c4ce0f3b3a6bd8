// The chat page's model picker: the bundled model and known MoE repos on the Hugging Face Hub, with
// what their weights take in each dtype, so a visitor sees whether one fits before downloading it.
// The Hub rows are the table of docs/models.md ("Real checkpoints and memory", printed by
// test/model/familySizes.test.ts from the repos' configs; test/e2e/demo-source.test.ts holds them equal).
import type { WeightDType } from '../../src/index.js';
import { BUNDLED_MODEL } from '../common/bundled.js';

export const DTYPES: readonly WeightDType[] = ['f16', 'f32', 'q8', 'q4'];

export interface CatalogueEntry {
  /** the Hub repo, or the bundled model's name */
  repo: string;
  /** what the Model URL field gets */
  url: string;
  family: string;
  /** parameters in all and per token, in billions */
  params: number;
  active: number;
  /** GB (10⁹ bytes) of weights per dtype */
  gb: Record<WeightDType, number>;
  /** KV-cache KiB per position (f32, every layer) */
  kvKiB: number;
  /** the system prompt the page starts with */
  system: string;
}

const hub = (repo: string, family: string, params: number, active: number, [f32, f16, q8, q4]: number[], kvKiB: number): CatalogueEntry => ({
  repo,
  url: `https://huggingface.co/${repo}`,
  family,
  params,
  active,
  gb: { f32, f16, q8, q4 },
  kvKiB,
  system: 'You are a helpful assistant.',
});

export const CATALOGUE: readonly CatalogueEntry[] = [
  {
    repo: 'austen-moe (bundled)',
    url: BUNDLED_MODEL,
    family: 'mixtral',
    params: 0.01076,
    active: 0.00368,
    // 9.44 M expert weights (q8/q4 quantize them) and 1.31 M of attention, embedding and lm_head (f16 under q8/q4).
    gb: { f32: 0.0430, f16: 0.0215, q8: 0.0127, q4: 0.0079 },
    kvKiB: 4,
    system: 'You are a character in a novel by Jane Austen.',
  },
  hub('ibm-granite/granite-3.0-1b-a400m-instruct', 'granitemoe', 1.33, 0.43, [5.34, 2.67, 1.54, 0.93], 96),
  hub('ibm-granite/granite-3.0-3b-a800m-instruct', 'granitemoe', 3.3, 0.88, [13.2, 6.6, 3.77, 2.26], 128),
  hub('allenai/OLMoE-1B-7B-0125-Instruct', 'olmoe', 6.92, 1.28, [27.7, 13.8, 7.8, 4.58], 256),
  hub('Qwen/Qwen1.5-MoE-A2.7B-Chat', 'qwen2_moe', 14.3, 2.69, [57.3, 28.6, 16.2, 9.54], 384),
  hub('Qwen/Qwen3-30B-A3B', 'qwen3_moe', 30.5, 3.35, [122.1, 61.1, 33.9, 19.4], 192),
  hub('mistralai/Mixtral-8x7B-Instruct-v0.1', 'mixtral', 46.7, 12.9, [186.8, 93.4, 51.1, 28.6], 256),
  hub('openai/gpt-oss-20b', 'gpt_oss', 20.9, 4.19, [83.7, 41.8, 23.9, 14.4], 96),
  hub('deepseek-ai/DeepSeek-V2-Lite-Chat', 'deepseek_v2', 15.7, 2.66, [62.8, 31.4, 17.4, 9.98], 60.75),
  hub('moonshotai/Moonlight-16B-A3B-Instruct', 'deepseek_v3', 16, 2.91, [63.8, 31.9, 17.9, 10.5], 60.75),
];

/** The positions of KV cache the fit counts (the page's context). */
export const FIT_POSITIONS = 2048;

export type Fit = { fits: boolean | undefined; bytes: number; text: string };

/** Whether an entry's weights at `dtype` and its KV cache fit the memory the browser reports (`gib`, navigator.deviceMemory). */
export function fit(entry: CatalogueEntry, dtype: WeightDType, gib: number | undefined): Fit {
  const bytes = entry.gb[dtype] * 1e9 + entry.kvKiB * 1024 * FIT_POSITIONS;
  if (!gib) return { fits: undefined, bytes, text: 'unknown' };
  const fits = bytes <= gib * 2 ** 30;
  return { fits, bytes, text: fits ? 'fits' : 'too big' };
}

/** What the fit is measured against. */
export const budgetText = (gib: number | undefined): string =>
  gib ? `This device reports ${gib} GiB of memory.` : 'This browser does not report its memory, so whether a model fits is unknown.';

/** "46.7 B (12.9 B active)", "10.8 M (3.7 M active)". */
export function paramsText(e: CatalogueEntry): string {
  const n = (b: number) => (b < 1 ? `${(b * 1000).toFixed(1)} M` : `${b} B`);
  return `${n(e.params)} parameters (${n(e.active)} active per token)`;
}

/** "21.5 MB", "2.67 GB". */
export function sizeText(gb: number): string {
  return gb < 1 ? `${(gb * 1000).toFixed(1)} MB` : `${gb} GB`;
}
