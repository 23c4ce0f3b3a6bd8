// A synthetic checkpoint for benchmarks: a model of a real model's shape with random weights, served
// as a ModelSource without ever existing on disk or whole in memory. The safetensors header is built
// up front; every byte range of the data is computed when it is read, from a counter-based hash of
// (seed, tensor, element pair), so any two reads of the same bytes agree whatever their ranges.
// Weights are uniform with standard deviation 1/√fan_in (fan_in: the tensor's last dimension), norms
// are 1: activations stay finite through any number of layers. Speed: one hash makes a 32-bit word of
// two elements, each half of it an index into a table of 65536 values of the tensor's distribution,
// already in the file's dtype (the loader's work on the bytes is then what a real file's would be).
import { f32ToF16Bits } from '../gpu/f16.js';
import { readConfig } from '../model/families/registry.js';
import { checkpointTensors } from '../model/load.js';
import type { ModelFile, ModelSource } from '../io/source.js';

/**
 * config.json of ibm-granite/granite-3.1-1b-a400m-instruct (as published on the Hub), less its
 * bos/eos/pad token ids (all 0): a random model must not stop generating when it happens to pick 0.
 */
export const GRANITE_3_1_1B_A400M: Readonly<Record<string, unknown>> = {
  architectures: ['GraniteMoeForCausalLM'],
  model_type: 'granitemoe',
  attention_bias: false,
  attention_dropout: 0.0,
  attention_multiplier: 0.015625,
  embedding_multiplier: 12.0,
  hidden_act: 'silu',
  hidden_size: 1024,
  initializer_range: 0.02,
  intermediate_size: 512,
  logits_scaling: 6.0,
  max_position_embeddings: 131072,
  num_attention_heads: 16,
  num_experts_per_tok: 8,
  num_hidden_layers: 24,
  num_key_value_heads: 8,
  num_local_experts: 32,
  residual_multiplier: 0.22,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 1500000.0,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  vocab_size: 49155,
};

/**
 * Qwen3-30B-A3B's MoE shape as a GraniteMoE config (the synthetic family): 48 layers of 128 experts of
 * I 768, top-8, H 2048, vocab 151936, untied lm_head; its attention as GraniteMoE has it (32 heads of
 * 64 with 4 KV heads: Qwen3's heads are 128 wide, and it norms q and k), multipliers 1. For the expert
 * cache's benchmark: 29 B parameters, almost all of them in the experts.
 */
export const QWEN3_30B_A3B_SHAPE: Readonly<Record<string, unknown>> = {
  ...GRANITE_3_1_1B_A400M,
  attention_multiplier: 0.125,
  embedding_multiplier: 1,
  residual_multiplier: 1,
  logits_scaling: 1,
  hidden_size: 2048,
  intermediate_size: 768,
  num_attention_heads: 32,
  num_key_value_heads: 4,
  num_hidden_layers: 48,
  num_local_experts: 128,
  num_experts_per_tok: 8,
  max_position_embeddings: 40960,
  tie_word_embeddings: false,
  vocab_size: 151936,
};

/** The real models whose shapes the synthetic checkpoints take. */
export const SYNTHETIC_BASES = {
  granite: { name: 'granite-3.1-1b-a400m', config: GRANITE_3_1_1B_A400M },
  'qwen3-30b-a3b': { name: 'Qwen3-30B-A3B-shaped', config: QWEN3_30B_A3B_SHAPE },
} as const;

export interface SyntheticOptions {
  /** The shape. Default granite. */
  base?: keyof typeof SYNTHETIC_BASES;
  /** Default 1. */
  seed?: number;
  /** Element type of the weights. Default 'BF16' (the checkpoint's own). */
  dtype?: 'BF16' | 'F16';
  /** Smaller than the real model, for tests and quick runs: these config values replace the model's. */
  scale?: { layers?: number; vocab?: number; experts?: number };
}

interface SyntheticTensor {
  name: string;
  shape: number[];
  /** data offsets within the file: [begin, end) */
  begin: number;
  end: number;
  /** half-width of the uniform distribution; 0: every value is 1 (a norm) */
  amplitude: number;
  seed: number;
}

export interface SyntheticSource extends ModelSource {
  /** The config.json it serves. */
  config: Record<string, unknown>;
  /** Size of model.safetensors. */
  bytes: number;
}

const PIECE_BYTES = 4 * 1024 * 1024;

/** A 32-bit mix of two words (lowbias32 after an xor-multiply): the PRNG, addressed by element pair. */
function mix(a: number, b: number): number {
  let h = Math.imul(a ^ Math.imul(b, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

const f32 = new Float32Array(1);
const f32Bits = new Uint32Array(f32.buffer);

/** f32 → bf16 bits, rounded to nearest even (the values here are finite). */
function bf16Bits(v: number): number {
  f32[0] = v;
  const x = f32Bits[0];
  return (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
}

const tables = new Map<string, Uint16Array>();

/** The 65536 values an element takes, as `dtype` bits: u ↦ a·((u + ½)/32768 − 1), uniform on (−a, a); a = 0: all 1 (a norm). */
function valueTable(amplitude: number, dtype: 'BF16' | 'F16'): Uint16Array {
  const key = `${dtype} ${amplitude}`;
  let t = tables.get(key);
  if (!t) {
    const bits = dtype === 'BF16' ? bf16Bits : f32ToF16Bits;
    t = new Uint16Array(0x10000);
    for (let u = 0; u < 0x10000; u++) t[u] = bits(amplitude === 0 ? 1 : amplitude * ((u + 0.5) / 32768 - 1));
    tables.set(key, t);
  }
  return t;
}

/** Element pairs p0… of tensor t into `out`, a word each: element 2p takes the low half of hash p, 2p + 1 the high half. */
function words(t: SyntheticTensor, p0: number, dtype: 'BF16' | 'F16', out: Uint32Array): void {
  const table = valueTable(t.amplitude, dtype);
  for (let i = 0; i < out.length; i++) {
    const h = mix(p0 + i, t.seed);
    out[i] = table[h & 0xffff] | (table[h >>> 16] << 16);
  }
}

/** Every tensor of a GraniteMoE checkpoint, in file order, as the family's blocks declare them. */
function graniteTensors(config: Record<string, unknown>): { name: string; shape: number[] }[] {
  const { family, config: c } = readConfig(config);
  if (c.family !== 'granitemoe') throw new Error(`webmoe: synthetic checkpoints are GraniteMoE only, got ${c.family}`);
  return checkpointTensors(family, c);
}

/**
 * granite-3.1-1b-a400m with random weights (about 2.7 GB of BF16 at full size), as a ModelSource
 * for loadModel / Engine.load. It has no tokenizer: generate from token ids.
 */
export function syntheticGraniteSource(o: SyntheticOptions = {}): SyntheticSource {
  const dtype = o.dtype ?? 'BF16';
  const seed = o.seed ?? 1;
  const s = o.scale ?? {};
  const base = SYNTHETIC_BASES[o.base ?? 'granite'];
  const config: Record<string, unknown> = {
    ...base.config,
    ...(s.layers !== undefined && { num_hidden_layers: s.layers }),
    ...(s.vocab !== undefined && { vocab_size: s.vocab }),
    ...(s.experts !== undefined && {
      num_local_experts: s.experts,
      num_experts_per_tok: Math.min(s.experts, base.config.num_experts_per_tok as number),
    }),
    torch_dtype: dtype === 'BF16' ? 'bfloat16' : 'float16',
  };

  const tensors: SyntheticTensor[] = [];
  const header: Record<string, unknown> = { __metadata__: { format: 'pt', synthetic: `seed ${seed}` } };
  let offset = 0;
  graniteTensors(config).forEach(({ name, shape }, index) => {
    const bytes = shape.reduce((a, b) => a * b, 1) * 2;
    // uniform on [-a, a]: standard deviation a/√3 = 1/√fan_in
    const amplitude = shape.length === 1 ? 0 : Math.sqrt(3 / shape[shape.length - 1]);
    tensors.push({ name, shape, begin: offset, end: offset + bytes, amplitude, seed: mix(seed, index + 1) });
    header[name] = { dtype, shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  });
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const headerBytes = new Uint8Array(8 + json.length);
  new DataView(headerBytes.buffer).setBigUint64(0, BigInt(json.length), true);
  headerBytes.set(new TextEncoder().encode(json), 8);
  const dataStart = headerBytes.length;
  const size = dataStart + offset;

  /** Bytes [start, end) of the file into `out`. */
  function fill(start: number, end: number, out: Uint8Array): void {
    if (start < dataStart) out.set(headerBytes.subarray(start, Math.min(end, dataStart)));
    const d0 = Math.max(start, dataStart) - dataStart;
    const d1 = end - dataStart;
    for (const t of tensors) {
      if (t.end <= d0 || t.begin >= d1) continue;
      const b0 = Math.max(d0, t.begin) - t.begin; // bytes within the tensor
      const b1 = Math.min(d1, t.end) - t.begin;
      const p0 = b0 >> 2; // element pairs: 4 bytes each
      const at = out.byteOffset + t.begin + b0 + dataStart - start;
      if (b0 % 4 === 0 && b1 % 4 === 0 && at % 4 === 0) { // the usual case: straight into the piece
        words(t, p0, dtype, new Uint32Array(out.buffer, at, (b1 - b0) / 4));
      } else {
        const w = new Uint32Array(((b1 + 3) >> 2) - p0);
        words(t, p0, dtype, w);
        out.set(new Uint8Array(w.buffer, b0 - 4 * p0, b1 - b0), at - out.byteOffset);
      }
    }
  }

  const file: ModelFile = {
    size,
    async *stream(start, end, signal) {
      if (start < 0 || end > size) throw new RangeError(`synthetic model.safetensors: bytes ${start}-${end} are outside 0-${size}`);
      for (let at = start; at < end; at += PIECE_BYTES) {
        signal?.throwIfAborted();
        const piece = new Uint8Array(Math.min(PIECE_BYTES, end - at));
        fill(at, at + piece.length, piece);
        yield piece;
      }
    },
  };
  const layers = config.num_hidden_layers as number;
  return {
    name: `synthetic ${base.name}${
      layers === base.config.num_hidden_layers && !s.vocab && !s.experts ? '' : ` (${
        [
          `${layers} layers`,
          s.vocab !== undefined && `vocab ${s.vocab}`,
          s.experts !== undefined && `${s.experts} experts`,
        ].filter(Boolean).join(', ')
      })`
    }`,
    config,
    bytes: size,
    async open(name, signal) {
      signal?.throwIfAborted();
      return name === 'model.safetensors' ? file : undefined;
    },
    async text(name, signal) {
      signal?.throwIfAborted();
      return name === 'config.json' ? JSON.stringify(config, null, 2) : undefined;
    },
  };
}
