// The pure parts of the QMoE peers of `webmoe bench --peers` (onnxruntime's com.microsoft.QMoE op):
// webmoe's q4/q8 expert weights repacked into QMoE's layout, the same int values and scales, and the
// float64 reference of what QMoE computes, to check a peer's output before its time counts.
//
// QMoE's layout (onnxruntime 1.30, the MatMulNBits convention per expert), with block_size = 32:
//   fc1 weights [E, 2I, H·bits/8] u8, fc1 scales [E, 2I, H/32]; fc2 weights [E, H, I·bits/8], scales [E, H, I/32];
//   one row per output, K (the reduction) contiguous; int4: element 2j in the low nibble of byte j,
//   2j+1 in the high one, stored as q + 8 (implicit zero point 8; int8: q + 128); value = (stored − zp)·scale.
//   With swiglu_fusion = 1, fc1's rows interleave gate and up: row 2i is gate row i, row 2i+1 up row i.
// webmoe's rows (src/weights/formats/groups.ts) hold the same groups of 32 along K, packed little-end first
// (nibble i of a u32 at bit 4i, so byte j holds elements 2j and 2j+1 low nibble first): a group's data
// words, read as bytes and XORed with 0x88 (0x80 for q8), are QMoE's bytes of that block verbatim,
// and the f16 scales widen exactly to f32.
import { f16BitsToF32 } from '../gpu/f16.js';
import { GROUP } from '../weights/formats/groups.js';
import { referenceRoute } from '../moe/reference.js';
import type { BenchRecord } from './cases.js';
import { QUANT, type QuantDType } from '../weights/format.js';

export interface QMoEShape {
  tokens: number;
  hidden: number;
  intermediate: number;
  experts: number;
  topK: number;
}

/** What a peer's QMoE model is built from: packQMoE's output. */
export interface QMoEWeights {
  bits: 4 | 8;
  /** Quantization block along K (QMoE's block_size attribute). */
  block: number;
  /** [E, 2I, H·bits/8], gate and up rows interleaved (swiglu_fusion = 1). */
  fc1: Uint8Array;
  /** [E, 2I, H/block] */
  fc1Scales: Float32Array;
  /** [E, H, I·bits/8] */
  fc2: Uint8Array;
  /** [E, H, I/block] */
  fc2Scales: Float32Array;
}

/** QMoE's SwiGLU on a (gate, up) pair: gate' · σ(alpha·gate') · (up' + beta), gate' = min(gate, limit), up' = clamp(up, ±limit). */
export interface SwigluForm {
  alpha: number;
  beta: number;
  limit: number;
}
/** alpha 1, beta 0, no limit: silu(gate)·up, webmoe's (Mixtral's) expert. */
export const MIXTRAL_SWIGLU: SwigluForm = { alpha: 1, beta: 0, limit: Infinity };

/** QMoE's attributes for webmoe's block: softmax over the E logits, top-k renormalised, interleaved SwiGLU. */
export function qmoeAttributes(k: number, bits: 4 | 8, block: number, form: SwigluForm = MIXTRAL_SWIGLU): Record<string, string | number | { float: number }> {
  return {
    k,
    activation_type: 'swiglu',
    swiglu_fusion: 1,
    normalize_routing_weights: 1,
    expert_weight_bits: bits,
    block_size: block,
    activation_alpha: { float: form.alpha },
    activation_beta: { float: form.beta },
    ...(Number.isFinite(form.limit) && { swiglu_limit: { float: form.limit } }),
  };
}

/** Quantizes rows (rows × inner) as webmoe does and writes them in QMoE's layout: bytes [rows, inner·bits/8], f32 scales [rows, inner/32]. */
export function packRows(values: Float32Array, inner: number, dtype: QuantDType): { data: Uint8Array; scales: Float32Array } {
  if (inner % GROUP !== 0) throw new RangeError(`QMoE peer: K = ${inner} is not a multiple of ${GROUP}`);
  const code = QUANT[dtype];
  const bits = code.bits;
  const rows = values.length / inner;
  const groups = inner / GROUP;
  const words = code.rowWords(inner);
  const q = code.quantize(values, inner);
  const qBytes = new Uint8Array(q.buffer, q.byteOffset, q.byteLength);
  const rowBytes = (inner * bits) / 8;
  const data = new Uint8Array(rows * rowBytes);
  const scales = new Float32Array(rows * groups);
  const flip = bits === 4 ? 0x88 : 0x80; // signed q → q + zero point, per nibble / byte
  for (let r = 0; r < rows; r++) {
    const src = r * words * 4;
    for (let b = 0; b < rowBytes; b++) data[r * rowBytes + b] = qBytes[src + b] ^ flip;
    for (let g = 0; g < groups; g++) {
      scales[r * groups + g] = f16BitsToF32((q[r * words + groups * bits + (g >> 1)] >>> ((g & 1) * 16)) & 0xffff);
    }
  }
  return { data, scales };
}

/** The values packRows' output stands for (QMoE's dequantization): rows × inner floats. */
export function unpackRows(data: Uint8Array, scales: Float32Array, inner: number, bits: 4 | 8): Float32Array {
  const rows = scales.length / (inner / GROUP);
  const out = new Float32Array(rows * inner);
  const rowBytes = (inner * bits) / 8;
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < inner; k++) {
      const byte = data[r * rowBytes + (bits === 4 ? k >> 1 : k)];
      const stored = bits === 4 ? (k & 1 ? byte >> 4 : byte & 15) : byte;
      out[r * inner + k] = (stored - (1 << (bits - 1))) * scales[r * (inner / GROUP) + Math.floor(k / GROUP)];
    }
  }
  return out;
}

/** webmoe's gateUp [E, 2I, H] (gate rows, then up rows) and down [E, H, I] in QMoE's layout, quantized as `dtype`. */
export function packQMoE(gateUp: Float32Array, down: Float32Array, H: number, I: number, E: number, dtype: QuantDType): QMoEWeights {
  const bits = QUANT[dtype].bits;
  const w: QMoEWeights = {
    bits,
    block: GROUP,
    fc1: new Uint8Array((E * 2 * I * H * bits) / 8),
    fc1Scales: new Float32Array((E * 2 * I * H) / GROUP),
    fc2: new Uint8Array((E * H * I * bits) / 8),
    fc2Scales: new Float32Array((E * H * I) / GROUP),
  };
  const interleaved = new Float32Array(2 * I * H); // one expert at a time: the full shape's gateUp is 400 MB
  for (let e = 0; e < E; e++) {
    for (let i = 0; i < I; i++) {
      interleaved.set(gateUp.subarray((e * 2 * I + i) * H, (e * 2 * I + i + 1) * H), 2 * i * H);
      interleaved.set(gateUp.subarray((e * 2 * I + I + i) * H, (e * 2 * I + I + i + 1) * H), (2 * i + 1) * H);
    }
    const fc1 = packRows(interleaved, H, dtype);
    w.fc1.set(fc1.data, e * fc1.data.length);
    w.fc1Scales.set(fc1.scales, e * fc1.scales.length);
    const fc2 = packRows(down.subarray(e * H * I, (e + 1) * H * I), I, dtype);
    w.fc2.set(fc2.data, e * fc2.data.length);
    w.fc2Scales.set(fc2.scales, e * fc2.scales.length);
  }
  return w;
}

/** Expert e's rows of a packed matrix ([E, rows, inner]), dequantized: rows × inner floats. */
function unpackExpert(data: Uint8Array, scales: Float32Array, e: number, rows: number, inner: number, bits: 4 | 8): Float32Array {
  const bytes = (rows * inner * bits) / 8;
  const groups = (rows * inner) / GROUP;
  return unpackRows(data.subarray(e * bytes, (e + 1) * bytes), scales.subarray(e * groups, (e + 1) * groups), inner, bits);
}

/** Router logits [T, E] = x·routerᵀ (QMoE's router_probs input), in f32 as a peer gets them. */
export function routerLogits(x: Float32Array, router: Float32Array, T: number, H: number, E: number): Float32Array {
  const out = new Float32Array(T * E);
  for (let t = 0; t < T; t++) {
    for (let e = 0; e < E; e++) {
      let acc = 0;
      for (let h = 0; h < H; h++) acc += x[t * H + h] * router[e * H + h];
      out[t * E + e] = acc;
    }
  }
  return out;
}

/**
 * Int8 activations as ORT's WebGPU MatMulNBits quantizes them on its DP4A path (taken with
 * accuracy_level 4, which QMoE fixes, on a device with the Subgroups feature, where K % 128 == 0 and
 * N % 16 == 0): per block of `block` inputs along K, q = pack4x8snorm(a / max|a|) = floor(0.5 + 127·a/max),
 * a' = q · f32(max / 127). (Checked: ORT's output at the full shape matches this reference to 2e-7.)
 */
export function int8Activations(a: ArrayLike<number>, block: number): Float64Array {
  const out = new Float64Array(a.length);
  for (let b = 0; b < a.length; b += block) {
    let max = 0;
    for (let i = b; i < b + block; i++) max = Math.max(max, Math.abs(a[i]));
    const scale = Math.fround(max / 127);
    for (let i = b; i < b + block; i++) out[i] = max ? Math.floor(0.5 + 127 * Math.fround(a[i] / max)) * scale : 0;
  }
  return out;
}

/** Whether ORT's DP4A path (and so int8Activations) applies to a K×N matmul (CanApplyDP4AMatrixMatMulNBits). */
export const dp4aApplies = (K: number, N: number, block: number): boolean => K % block === 0 && K % 128 === 0 && N % 16 === 0;

export interface QMoEReferenceOptions {
  /** QMoE's SwiGLU; MIXTRAL_SWIGLU when absent. */
  form?: SwigluForm;
  /** The peer quantizes each matmul's activations to int8 in blocks of this size where dp4aApplies. */
  int8Block?: number;
}

/**
 * Float64 QMoE on the first `tokens` tokens, on its own dequantized weights (unpackRows of `w`):
 * softmax over the E logits, top-k, renormalised to sum 1 (referenceRoute with normTopK), then per
 * expert fc2(swiglu(fc1·x)) with `form`. With MIXTRAL_SWIGLU this is referenceMoE of webmoe's block
 * on its referenceQuantize'd weights.
 */
export function qmoeReference(
  s: QMoEShape,
  w: QMoEWeights,
  x: Float32Array,
  router: Float32Array,
  tokens: number,
  o: QMoEReferenceOptions = {},
): Float64Array {
  const { hidden: H, intermediate: I, experts: E, topK: k } = s;
  const form = o.form ?? MIXTRAL_SWIGLU;
  const act = (a: ArrayLike<number>, K: number, N: number) => (o.int8Block && dp4aApplies(K, N, o.int8Block) ? int8Activations(a, o.int8Block) : a);
  const r = referenceRoute({
    hidden: H,
    intermediate: I,
    numExperts: E,
    topK: k,
    normTopK: true,
    tokens,
    x: x.subarray(0, tokens * H),
    router,
    gateUp: new Float32Array(0),
    down: new Float32Array(0),
  });
  const y = new Float64Array(tokens * H);
  const h = new Float64Array(I);
  for (let t = 0; t < tokens; t++) {
    const xt = act(x.subarray(t * H, (t + 1) * H), H, 2 * I);
    for (let j = 0; j < k; j++) {
      const e = r.ids[t][j];
      const fc1 = unpackExpert(w.fc1, w.fc1Scales, e, 2 * I, H, w.bits);
      const fc2 = unpackExpert(w.fc2, w.fc2Scales, e, H, I, w.bits);
      for (let i = 0; i < I; i++) {
        let g = 0;
        let u = 0;
        const gRow = 2 * i * H;
        for (let c = 0; c < H; c++) {
          g += xt[c] * fc1[gRow + c];
          u += xt[c] * fc1[gRow + H + c];
        }
        g = Math.min(g, form.limit);
        u = Math.max(-form.limit, Math.min(form.limit, u));
        h[i] = (g / (1 + Math.exp(-form.alpha * g))) * (u + form.beta);
      }
      const ht = act(h, I, H);
      for (let c = 0; c < H; c++) {
        let acc = 0;
        for (let i = 0; i < I; i++) acc += ht[i] * fc2[c * I + i];
        y[t * H + c] += r.weights[t][j] * acc;
      }
    }
  }
  return y;
}

/** Bytes of one expert in QMoE's layout: int data and f32 scales of fc1 [2I, H] and fc2 [H, I]. */
export const qmoeExpertBytes = (H: number, I: number, bits: 4 | 8, block: number): number => (3 * H * I * bits) / 8 + 4 * ((3 * H * I) / block);

/**
 * Per MoE shape where QMoE peers ran: webmoe's `moe` time over the best peer's, and each peer's time
 * over webmoe's (above 1: webmoe is faster), e.g. `moe T=1: ort-webgpu qmoe time / webmoe time`.
 * Here, not in peers.ts, so that cases.ts's report ratios can use it without an import cycle.
 */
export function moePeerRatios(records: BenchRecord[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const own of records.filter((r) => r.name === 'moe')) {
    const peers = records.filter((r) => r.name.startsWith('peer:') && r.name.endsWith(' qmoe') && r.shape === own.shape);
    if (peers.length === 0) continue;
    const T = own.shape.split(' ')[0];
    const best = peers.reduce((a, b) => (b.ms < a.ms ? b : a));
    out[`moe ${T}: webmoe time / best peer time (${best.name.slice(5, -5)})`] = own.ms / best.ms;
    for (const p of peers) out[`moe ${T}: ${p.name.slice(5)} time / webmoe time`] = p.ms / own.ms;
  }
  return out;
}
