// Rotary position embeddings as a config.json asks for them (`rope_scaling`, with `rope_type` or the
// legacy `type`; or the `rope_parameters` of newer configs): the frequency of each rotated pair and the
// factor cos and sin are multiplied by, as transformers' modeling_rope_utils computes them (in float64
// here). Where the transformers versions differ (YaRN's factor beside original_max_position_embeddings),
// the newest is followed: `factor` as given, derived from the two lengths only when absent.
import { ModelConfigError } from './config.js';

export interface Rope {
  /** pair i of a head turns by position · invFreq[i] (rotaryDim / 2 pairs) */
  invFreq: number[];
  /** cos and sin are multiplied by it: YaRN's attention factor, else 1 */
  attentionFactor: number;
  /** 'dynamic' scaling changes the frequencies past this many positions: longer contexts are refused */
  maxPositions?: number;
}

type Params = Record<string, unknown>;

/** Keys each type reads (besides rope_type / type / rope_theta), required ones first. */
const TYPES: Record<string, { required: string[]; optional: string[] }> = {
  default: { required: [], optional: [] },
  linear: { required: ['factor'], optional: [] },
  dynamic: { required: ['factor'], optional: ['original_max_position_embeddings'] },
  yarn: {
    required: [],
    optional: ['factor', 'original_max_position_embeddings', 'attention_factor', 'beta_fast', 'beta_slow', 'mscale', 'mscale_all_dim', 'truncate'],
  },
  llama3: { required: ['factor', 'low_freq_factor', 'high_freq_factor', 'original_max_position_embeddings'], optional: [] },
};

const fail = (what: string): never => {
  throw new ModelConfigError(`webmoe: config.json: ${what}`);
};

function num(p: Params, key: string, where: string, fallback?: number): number {
  const v = p[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail(`${where}.${key} must be a positive number, got ${JSON.stringify(p[key])}`);
  return v as number;
}

/** θ^(−2i/dim) for i < dim/2. */
const defaultFreqs = (theta: number, dim: number): number[] => Array.from({ length: dim / 2 }, (_, i) => theta ** (-(2 * i) / dim));

/** YaRN's magnitude scale for a context stretched `scale` times. */
export const yarnMscale = (scale: number, mscale = 1): number => (scale <= 1 ? 1 : 0.1 * mscale * Math.log(scale) + 1);

/**
 * The rotary embedding of a config whose heads rotate `dim` dimensions: rope_theta (default 10000),
 * and the scaling its `rope_scaling` (or `rope_parameters`) names. Unknown types and keys are refused.
 */
export function ropeOf(raw: Params, dim: number): Rope {
  const where = raw.rope_parameters != null ? 'rope_parameters' : 'rope_scaling';
  const p = (raw.rope_parameters ?? raw.rope_scaling ?? {}) as Params;
  if (typeof p !== 'object' || Array.isArray(p)) fail(`${where} must be an object, got ${JSON.stringify(p)}`);
  const theta = num({ rope_theta: p.rope_theta ?? raw.rope_theta }, 'rope_theta', where, 10000);
  const type = p.rope_type ?? p.type ?? 'default';
  if (p.rope_type != null && p.type != null && p.rope_type !== p.type) {
    fail(`${where} has rope_type ${JSON.stringify(p.rope_type)} and type ${JSON.stringify(p.type)}`);
  }
  const keys = typeof type === 'string' ? TYPES[type] : undefined;
  if (!keys) fail(`${where}: rope type ${JSON.stringify(type)} is not supported (${Object.keys(TYPES).join(', ')})`);
  for (const k of Object.keys(p)) {
    if (!['rope_type', 'type', 'rope_theta', ...keys!.required, ...keys!.optional].includes(k)) {
      fail(`${where}.${k} is not supported for rope type ${String(type)} (${JSON.stringify(p[k])})`);
    }
  }
  for (const k of keys!.required) num(p, k, where);
  const maxPositions = num(raw, 'max_position_embeddings', 'config', 4096);
  const base = defaultFreqs(theta, dim);
  switch (type) {
    case 'linear':
      return { invFreq: base.map((f) => f / (p.factor as number)), attentionFactor: 1 };
    case 'dynamic':
      // Within the trained length transformers' dynamic NTK frequencies are the default ones.
      return { invFreq: base, attentionFactor: 1, maxPositions: Math.min(maxPositions, num(p, 'original_max_position_embeddings', where, maxPositions)) };
    case 'yarn':
      return yarn(p, where, theta, dim, maxPositions);
    case 'llama3':
      return llama3(p, base);
    default:
      return { invFreq: base, attentionFactor: 1 };
  }
}

/** YaRN: low-frequency pairs interpolated (÷ factor), high-frequency ones kept, a linear ramp between. */
function yarn(p: Params, where: string, theta: number, dim: number, maxPositions: number): Rope {
  const original = num(p, 'original_max_position_embeddings', where, maxPositions);
  const factor = num(p, 'factor', where, maxPositions / original);
  const mscale = p.mscale == null ? 0 : num(p, 'mscale', where);
  const mscaleAllDim = p.mscale_all_dim == null ? 0 : num(p, 'mscale_all_dim', where);
  const attentionFactor = p.attention_factor != null
    ? num(p, 'attention_factor', where)
    : mscale && mscaleAllDim
    ? yarnMscale(factor, mscale) / yarnMscale(factor, mscaleAllDim)
    : yarnMscale(factor);
  const truncate = p.truncate ?? true;
  if (typeof truncate !== 'boolean') fail(`${where}.truncate must be a boolean, got ${JSON.stringify(truncate)}`);
  // The pair index at which a frequency turns `rotations` times over the original context.
  const correction = (rotations: number) => (dim * Math.log(original / (rotations * 2 * Math.PI))) / (2 * Math.log(theta));
  let low = correction(num(p, 'beta_fast', where, 32));
  let high = correction(num(p, 'beta_slow', where, 1));
  if (truncate) [low, high] = [Math.floor(low), Math.ceil(high)];
  low = Math.max(low, 0);
  high = Math.min(high, dim - 1);
  if (low === high) high += 0.001;
  const invFreq = defaultFreqs(theta, dim).map((f, i) => {
    const keep = 1 - Math.min(1, Math.max(0, (i - low) / (high - low))); // 1: extrapolate (keep f)
    return (f / factor) * (1 - keep) + f * keep;
  });
  return { invFreq, attentionFactor };
}

/** Llama 3: long wavelengths ÷ factor, short ones kept, a smooth blend between. */
function llama3(p: Params, base: number[]): Rope {
  const [factor, lowFactor, highFactor, original] = ['factor', 'low_freq_factor', 'high_freq_factor', 'original_max_position_embeddings'].map((k) =>
    p[k] as number
  );
  const invFreq = base.map((f) => {
    const wavelength = (2 * Math.PI) / f;
    if (wavelength < original / highFactor) return f;
    if (wavelength > original / lowFactor) return f / factor;
    const smooth = (original / wavelength - lowFactor) / (highFactor - lowFactor);
    return ((1 - smooth) * f) / factor + smooth * f;
  });
  return { invFreq, attentionFactor: 1 };
}

/** (cos, sin) · attentionFactor of position · invFreq[i], in float64 then rounded: [maxSeq, pairs, 2]. */
export function ropeTable(maxSeq: number, rope: Rope): Float32Array<ArrayBuffer> {
  const pairs = rope.invFreq.length;
  const table = new Float32Array(maxSeq * pairs * 2);
  for (let pos = 0; pos < maxSeq; pos++) {
    for (let i = 0; i < pairs; i++) {
      const angle = pos * rope.invFreq[i];
      table[(pos * pairs + i) * 2] = Math.cos(angle) * rope.attentionFactor;
      table[(pos * pairs + i) * 2 + 1] = Math.sin(angle) * rope.attentionFactor;
    }
  }
  return table;
}

/** The shared-buffer key of a table, and the check that the context fits the scaling. */
export function ropeKey(rope: Rope, contextLength: number): string {
  if (rope.maxPositions !== undefined && contextLength > rope.maxPositions) {
    throw new ModelConfigError(
      `webmoe: config.json: rope_scaling dynamic changes the frequencies past ${rope.maxPositions} positions (not supported): use a contextLength ≤ ${rope.maxPositions}, got ${contextLength}`,
    );
  }
  return `rope ${contextLength} ${rope.attentionFactor} ${rope.invFreq.join(',')}`;
}
