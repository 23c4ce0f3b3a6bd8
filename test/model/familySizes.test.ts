// Parameters and weight memory of each family's real Hub checkpoints, worked out from their config.json
// values: the table of docs/models.md ("Real checkpoints and memory") and the README, printed by
// `npx vitest run test/model/familySizes.test.ts`. The counts are checked against the tensors the
// family code itself declares for the same configs (checkpointTensors), for every family this branch
// loads, and the bytes come from the weight formats' own row sizes.
import { describe, expect, it } from 'vitest';
import { readConfig } from '../../src/model/families/registry.js';
import { checkpointTensors } from '../../src/model/load.js';
import { FORMATS, type WeightDType } from '../../src/weights/format.js';

type Raw = Record<string, unknown>;

/**
 * The keys of each repo's config.json that set a weight's shape, as published (the Instruct / Chat
 * repos have the same shapes as their base models). Granite 3.0 and 3.1 share their shapes.
 */
const HUB: { repo: string; config: Raw }[] = [
  {
    repo: 'ibm-granite/granite-3.0-1b-a400m-instruct',
    config: {
      model_type: 'granitemoe',
      vocab_size: 49155,
      hidden_size: 1024,
      num_hidden_layers: 24,
      num_attention_heads: 16,
      num_key_value_heads: 8,
      intermediate_size: 512,
      num_local_experts: 32,
      num_experts_per_tok: 8,
      tie_word_embeddings: true,
    },
  },
  {
    repo: 'ibm-granite/granite-3.0-3b-a800m-instruct',
    config: {
      model_type: 'granitemoe',
      vocab_size: 49155,
      hidden_size: 1536,
      num_hidden_layers: 32,
      num_attention_heads: 24,
      num_key_value_heads: 8,
      intermediate_size: 512,
      num_local_experts: 40,
      num_experts_per_tok: 8,
      tie_word_embeddings: true,
    },
  },
  {
    repo: 'allenai/OLMoE-1B-7B-0125-Instruct',
    config: {
      model_type: 'olmoe',
      vocab_size: 50304,
      hidden_size: 2048,
      num_hidden_layers: 16,
      num_attention_heads: 16,
      num_key_value_heads: 16,
      intermediate_size: 1024,
      num_experts: 64,
      num_experts_per_tok: 8,
      tie_word_embeddings: false,
    },
  },
  {
    repo: 'Qwen/Qwen1.5-MoE-A2.7B-Chat',
    config: {
      model_type: 'qwen2_moe',
      vocab_size: 151936,
      hidden_size: 2048,
      num_hidden_layers: 24,
      num_attention_heads: 16,
      num_key_value_heads: 16,
      intermediate_size: 5632,
      moe_intermediate_size: 1408,
      shared_expert_intermediate_size: 5632,
      num_experts: 60,
      num_experts_per_tok: 4,
      decoder_sparse_step: 1,
      tie_word_embeddings: false,
    },
  },
  {
    repo: 'Qwen/Qwen3-30B-A3B',
    config: {
      model_type: 'qwen3_moe',
      vocab_size: 151936,
      hidden_size: 2048,
      num_hidden_layers: 48,
      num_attention_heads: 32,
      num_key_value_heads: 4,
      head_dim: 128,
      intermediate_size: 6144,
      moe_intermediate_size: 768,
      num_experts: 128,
      num_experts_per_tok: 8,
      decoder_sparse_step: 1,
      mlp_only_layers: [],
      tie_word_embeddings: false,
    },
  },
  {
    repo: 'mistralai/Mixtral-8x7B-Instruct-v0.1',
    config: {
      model_type: 'mixtral',
      vocab_size: 32000,
      hidden_size: 4096,
      num_hidden_layers: 32,
      num_attention_heads: 32,
      num_key_value_heads: 8,
      intermediate_size: 14336,
      num_local_experts: 8,
      num_experts_per_tok: 2,
      tie_word_embeddings: false,
    },
  },
  {
    // Experts as MXFP4 (quantization_config.quant_method mxfp4), the rest BF16.
    repo: 'openai/gpt-oss-20b',
    config: {
      model_type: 'gpt_oss',
      vocab_size: 201088,
      hidden_size: 2880,
      num_hidden_layers: 24,
      num_attention_heads: 64,
      num_key_value_heads: 8,
      head_dim: 64,
      intermediate_size: 2880,
      num_local_experts: 32,
      num_experts_per_tok: 4,
      attention_bias: true,
      tie_word_embeddings: false,
    },
  },
  {
    repo: 'deepseek-ai/DeepSeek-V2-Lite-Chat',
    config: {
      model_type: 'deepseek_v2',
      vocab_size: 102400,
      hidden_size: 2048,
      num_hidden_layers: 27,
      num_attention_heads: 16,
      q_lora_rank: null,
      kv_lora_rank: 512,
      qk_nope_head_dim: 128,
      qk_rope_head_dim: 64,
      v_head_dim: 128,
      intermediate_size: 10944,
      moe_intermediate_size: 1408,
      n_routed_experts: 64,
      n_shared_experts: 2,
      num_experts_per_tok: 6,
      first_k_dense_replace: 1,
      tie_word_embeddings: false,
    },
  },
  {
    repo: 'moonshotai/Moonlight-16B-A3B-Instruct',
    config: {
      model_type: 'deepseek_v3',
      vocab_size: 163840,
      hidden_size: 2048,
      num_hidden_layers: 27,
      num_attention_heads: 16,
      q_lora_rank: null,
      kv_lora_rank: 512,
      qk_nope_head_dim: 128,
      qk_rope_head_dim: 64,
      v_head_dim: 128,
      intermediate_size: 11264,
      moe_intermediate_size: 1408,
      n_routed_experts: 64,
      n_shared_experts: 2,
      num_experts_per_tok: 6,
      first_k_dense_replace: 1,
      topk_method: 'noaux_tc',
      tie_word_embeddings: false,
    },
  },
];

/**
 * A group of `count` weight tensors of `rows` × `inner`, by how webmoe stores it: routed experts and
 * the other MLP matrices (shared experts, dense MLPs) in the load's dtype (q8/q4 quantize them),
 * the other matrices (attention, embedding, lm_head) in it but at f16 under q8/q4, and the small
 * tensors (norms, biases, routers, sinks) always in f32.
 */
interface Part {
  kind: 'routed' | 'mlp' | 'matrix' | 'f32';
  count: number;
  rows: number;
  inner: number;
}

const num = (raw: Raw, key: string, fallback?: number): number => {
  const v = raw[key] ?? fallback;
  if (typeof v !== 'number') throw new Error(`${String(raw.model_type)}: no ${key}`);
  return v;
};

const EXPERTS: Record<string, string> = {
  mixtral: 'num_local_experts',
  granitemoe: 'num_local_experts',
  gpt_oss: 'num_local_experts',
  qwen2_moe: 'num_experts',
  qwen3_moe: 'num_experts',
  olmoe: 'num_experts',
  deepseek_v2: 'n_routed_experts',
  deepseek_v3: 'n_routed_experts',
};
const EXPERT_INTERMEDIATE: Record<string, string> = { qwen2_moe: 'moe_intermediate_size', qwen3_moe: 'moe_intermediate_size',
  deepseek_v2: 'moe_intermediate_size', deepseek_v3: 'moe_intermediate_size' };

/** Gate, up and down of `count` SwiGLU MLPs of intermediate size I. */
const swiglu = (kind: Part['kind'], count: number, H: number,
  I: number): Part[] => [{ kind, count: 2 * count, rows: I, inner: H }, { kind, count, rows: H, inner: I }];

/** Whether layer l has a MoE block (Qwen's decoder_sparse_step / mlp_only_layers, DeepSeek's first_k_dense_replace). */
function sparse(raw: Raw, l: number): boolean {
  if (String(raw.model_type).startsWith('deepseek')) return l >= num(raw, 'first_k_dense_replace', 0);
  const dense = (raw.mlp_only_layers ?? []) as number[];
  return !dense.includes(l) && (l + 1) % num(raw, 'decoder_sparse_step', 1) === 0;
}

/** Every weight of the model the config describes, family by family as its modeling code lays it out. */
function parts(raw: Raw): Part[] {
  const type = String(raw.model_type);
  const [V, H, L, heads] = [num(raw, 'vocab_size'), num(raw, 'hidden_size'), num(raw, 'num_hidden_layers'), num(raw, 'num_attention_heads')];
  const E = num(raw, EXPERTS[type]);
  const I = num(raw, EXPERT_INTERMEDIATE[type] ?? 'intermediate_size');
  const out: Part[] = [{ kind: 'matrix', count: raw.tie_word_embeddings === true ? 1 : 2, rows: V, inner: H }, { kind: 'f32', count: 2 * L + 1, rows: 1,
    inner: H }];
  for (let l = 0; l < L; l++) {
    if (type.startsWith('deepseek')) {
      // Multi-head latent attention: q (or q_a, its norm and q_b), kv_a with the rope key, its norm, kv_b, o.
      const [qLora, kvLora] = [raw.q_lora_rank as number | null, num(raw, 'kv_lora_rank')];
      const [nope, rope, v] = [num(raw, 'qk_nope_head_dim'), num(raw, 'qk_rope_head_dim'), num(raw, 'v_head_dim')];
      if (qLora === null) out.push({ kind: 'matrix', count: 1, rows: heads * (nope + rope), inner: H });
      else {out.push({ kind: 'matrix', count: 1, rows: qLora, inner: H }, { kind: 'f32', count: 1, rows: 1, inner: qLora }, { kind: 'matrix', count: 1,
          rows: heads * (nope + rope), inner: qLora });}
      out.push(
        { kind: 'matrix', count: 1, rows: kvLora + rope, inner: H },
        { kind: 'f32', count: 1, rows: 1, inner: kvLora },
        { kind: 'matrix', count: 1, rows: heads * (nope + v), inner: kvLora },
        { kind: 'matrix', count: 1, rows: H, inner: heads * v },
      );
    } else {
      const D = num(raw, 'head_dim', H / heads);
      const [q, kv] = [heads * D, num(raw, 'num_key_value_heads', heads) * D];
      out.push({ kind: 'matrix', count: 1, rows: q, inner: H }, { kind: 'matrix', count: 2, rows: kv, inner: H }, { kind: 'matrix', count: 1, rows: H,
        inner: q });
      if (type === 'qwen2_moe' && raw.qkv_bias !== false) out.push({ kind: 'f32', count: 1, rows: 1, inner: q + 2 * kv });
      if (type === 'qwen3_moe') out.push({ kind: 'f32', count: 2, rows: 1, inner: D });
      if (type === 'olmoe') out.push({ kind: 'f32', count: 1, rows: 1, inner: q + kv });
      // gpt-oss: q/k/v/o biases and a sink logit per head.
      if (type === 'gpt_oss') out.push({ kind: 'f32', count: 1, rows: 1, inner: q + 2 * kv + H + heads });
    }
    if (!sparse(raw, l)) {
      out.push(...swiglu('mlp', 1, H, num(raw, 'intermediate_size')));
      continue;
    }
    out.push({ kind: 'f32', count: 1, rows: E, inner: H }, ...swiglu('routed', E, H, I));
    // gpt-oss: router bias, gate_up bias [E, 2I] and down bias [E, H]; DeepSeek-V3: the selection bias.
    if (type === 'gpt_oss') out.push({ kind: 'f32', count: 1, rows: 1, inner: E + E * 2 * I + E * H });
    if (raw.topk_method === 'noaux_tc') out.push({ kind: 'f32', count: 1, rows: 1, inner: E });
    if (type === 'qwen2_moe') out.push(...swiglu('mlp', 1, H, num(raw, 'shared_expert_intermediate_size')), { kind: 'f32', count: 1, rows: 1, inner: H });
    if (type.startsWith('deepseek')) out.push(...swiglu('mlp', 1, H, num(raw, 'n_shared_experts') * I));
  }
  return out;
}

const size = (p: Part) => p.count * p.rows * p.inner;

/** All parameters, and those a token uses (k of the E routed experts of each MoE layer). */
function paramCounts(raw: Raw): { total: number; active: number } {
  const type = String(raw.model_type);
  const share = num(raw, 'num_experts_per_tok') / num(raw, EXPERTS[type]);
  let total = 0;
  let active = 0;
  for (const p of parts(raw)) {
    total += size(p);
    active += p.kind === 'routed' ? size(p) * share : size(p);
  }
  return { total, active };
}

/**
 * Bytes of the weights as webmoe stores them with `dtype` ('mxfp4': the routed experts as gpt-oss
 * ships them, 4-bit codes and one E8M0 scale byte per 32 weights, the other matrices f16).
 */
function weightBytes(raw: Raw, dtype: WeightDType | 'mxfp4'): number {
  const storage = (kind: Part['kind']): WeightDType | 'mxfp4' => {
    if (kind === 'f32') return 'f32';
    if (dtype === 'mxfp4') return kind === 'routed' ? 'mxfp4' : 'f16';
    return kind === 'matrix' && (dtype === 'q8' || dtype === 'q4') ? 'f16' : dtype;
  };
  return parts(raw).reduce((sum, p) => {
    const s = storage(p.kind);
    const row = s === 'mxfp4' ? (p.inner / 32) * 17 : FORMATS[s].rowBytes(p.inner);
    return sum + p.count * p.rows * row;
  }, 0);
}

/**
 * KV-cache bytes a position takes in f32, on every layer: keys and values of the kv heads, or for
 * multi-head latent attention the compressed latent and the rope key (the weight-absorbed form).
 */
function kvBytesPerPosition(raw: Raw): number {
  const L = num(raw, 'num_hidden_layers');
  if (String(raw.model_type).startsWith('deepseek')) return L * (num(raw, 'kv_lora_rank') + num(raw, 'qk_rope_head_dim')) * 4;
  const D = num(raw, 'head_dim', num(raw, 'hidden_size') / num(raw, 'num_attention_heads'));
  return L * 2 * num(raw, 'num_key_value_heads', num(raw, 'num_attention_heads')) * D * 4;
}

/** Browser-tab budgets for the weights (what a tab's WebGPU device gets in practice is about this; it varies). */
const TABS = [2e9, 4e9];
const GB = (bytes: number) => (bytes / 1e9 < 10 ? (bytes / 1e9).toFixed(2) : (bytes / 1e9).toFixed(1));
const B = (n: number) => `${(n / 1e9).toFixed(n < 1e10 ? 2 : 1)} B`;

describe('parameters and weight memory of the real Hub checkpoints', () => {
  it.each(HUB)(
    '$repo: the count equals the tensors the family declares',
    ({ config }) => {
      const { family, config: c } = readConfig(config);
      const declared = checkpointTensors(family, c).reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
      expect(paramCounts(config).total).toBe(declared);
    },
  );

  it('matches the published counts', () => {
    // [total, active] in B as the model cards round (or truncate) them; `noEmbed`: the card's active count leaves
    // out the input embedding (granite, gpt-oss, DeepSeek-V2-Lite), where this table counts it.
    const published: Record<string, { total: number; active: number; noEmbed?: boolean }> = {
      'ibm-granite/granite-3.0-1b-a400m-instruct': { total: 1.3, active: 0.4, noEmbed: true },
      'ibm-granite/granite-3.0-3b-a800m-instruct': { total: 3.3, active: 0.8, noEmbed: true },
      'allenai/OLMoE-1B-7B-0125-Instruct': { total: 6.9, active: 1.3 },
      'Qwen/Qwen1.5-MoE-A2.7B-Chat': { total: 14.3, active: 2.7 },
      'Qwen/Qwen3-30B-A3B': { total: 30.5, active: 3.3 },
      'mistralai/Mixtral-8x7B-Instruct-v0.1': { total: 46.7, active: 12.9 },
      'openai/gpt-oss-20b': { total: 20.9, active: 3.6, noEmbed: true },
      'deepseek-ai/DeepSeek-V2-Lite-Chat': { total: 15.7, active: 2.4, noEmbed: true },
      'moonshotai/Moonlight-16B-A3B-Instruct': { total: 16, active: 3 },
    };
    for (const { repo, config } of HUB) {
      const { total, active } = paramCounts(config);
      const card = published[repo];
      const embedding = card.noEmbed ? num(config, 'vocab_size') * num(config, 'hidden_size') : 0;
      expect(Math.abs(total / 1e9 - card.total), repo).toBeLessThan(0.05);
      expect(Math.abs((active - embedding) / 1e9 - card.active), repo).toBeLessThan(card.active === 3 ? 0.5 : 0.1);
    }
  });

  it('q8 and q4 cost 8.5 and 4.5 bits a weight where the inputs are whole groups of 32', () => {
    expect(FORMATS.q8.rowBytes(2048) * 8 / 2048).toBe(8.5);
    expect(FORMATS.q4.rowBytes(2048) * 8 / 2048).toBe(4.5);
    // gpt-oss: 2880 inputs = 90 groups; MXFP4 = 4.25 bits.
    expect((2880 / 32) * 17 * 8 / 2880).toBe(4.25);
  });

  it('prints the table', () => {
    const rows = HUB.map(({ repo, config }) => {
      const { total, active } = paramCounts(config);
      const bytes = (['f32', 'f16', 'q8', 'q4'] as const).map((d) => weightBytes(config, d));
      const mx = config.model_type === 'gpt_oss' ? GB(weightBytes(config, 'mxfp4')) : '';
      const q4 = config.model_type === 'gpt_oss' ? weightBytes(config, 'mxfp4') : bytes[3];
      const fits = TABS.map((t) => (q4 <= t ? 'yes' : 'no')).join(' / ');
      const kv = `${kvBytesPerPosition(config) / 1024} KiB`;
      return `| ${repo} | ${config.model_type} | ${B(total)} (${B(active)}) | ${bytes.map(GB).join(' | ')} | ${mx} | ${fits} | ${kv} |`;
    });
    console.log(
      [
        '| repo | family | params (active) | f32 GB | f16 GB | q8 GB | q4 GB | MXFP4 GB | q4 fits a 2 / 4 GB tab | KV cache / position |',
        '|---|---|---|---:|---:|---:|---:|---:|---|---:|',
        ...rows,
      ].join('\n'),
    );
    expect(rows.length).toBe(HUB.length);
  });
});
