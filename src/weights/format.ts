// A weight format: how one row of a matrix is stored on the GPU, packed on the host and read in the
// kernels. One file a format under formats/, each with its WGSL prelude (shaders/weight_*.wgsl), so a
// new storage (an FP4 code, say) is a new file, not a new branch in the kernels.
import { F16 } from './formats/f16.js';
import { F32 } from './formats/f32.js';
import type { IntGroups } from './formats/groups.js';
import { MXFP4 } from './formats/mxfp4.js';
import { Q4 } from './formats/q4.js';
import { Q8 } from './formats/q8.js';

export interface WeightFormat {
  /** The dtype users name it by (or, for a checkpoint's own storage, the name matrices give it). */
  readonly name: WeightStorage;
  /**
   * WGSL files, joined before a kernel that declares `w: array<u32>` and `p.K`, that define
   * weight(r, k) (input k of row r), run8(r, k0) (inputs k0 … k0+7 as 8 values and their scale,
   * zeros from K on) and, from it, weights8(r, k0) (the 8 scaled: shaders/weight_run8.wgsl).
   */
  readonly prelude: readonly string[];
  /** Stored at 16 bits a weight or fewer: f16 GEMM tiles then round about as much as storage did. */
  readonly narrow: boolean;
  /** The safetensors dtype whose bytes are already this format's rows: loaded without decoding. */
  readonly sourceDType?: string;
  /** Bytes of one stored row of `inner` values. */
  rowBytes(inner: number): number;
  /**
   * The bytes of a stored row that each plane takes, where the format splits rows: a binding then
   * holds the first plane of all its rows, then the next (formats/mxfp4.ts). Absent: one plane, the
   * whole row.
   */
  planes?(inner: number): readonly number[];
  /** Whole rows of values (rows × inner) → their stored bytes. */
  pack(values: Float32Array, inner: number): Uint8Array<ArrayBuffer>;
  /** Stored rows → the values the kernels read (rows × inner). */
  unpack(bytes: Uint8Array, inner: number): Float32Array<ArrayBuffer>;
}

/** Storage of weights: f32, f16, or group-wise int8/int4 with f16 scales (formats/groups.ts). */
export type WeightDType = 'f32' | 'f16' | QuantDType;
export type QuantDType = 'q8' | 'q4';

/**
 * Storage a checkpoint brings, never a `dtype` choice: gpt-oss's MXFP4 experts, kept as the file
 * stores them (the other tensors of such a model follow `dtype`).
 */
export type CheckpointStorage = 'mxfp4';
/** Every storage a matrix may have. */
export type WeightStorage = WeightDType | CheckpointStorage;

/** The formats users choose by `dtype`. */
export const FORMATS: Readonly<Record<WeightDType, WeightFormat>> = { f32: F32, f16: F16, q8: Q8, q4: Q4 };
/** Every storage's format: what a matrix's `dtype` names. */
export const STORAGES: Readonly<Record<WeightStorage, WeightFormat>> = { ...FORMATS, mxfp4: MXFP4 };
export const QUANT: Readonly<Record<QuantDType, IntGroups>> = { q8: Q8, q4: Q4 };
export const WEIGHT_DTYPES = Object.keys(FORMATS) as readonly WeightDType[];
/** Every storage's WGSL files: the preludes a kernel that reads weights may be given. */
export const FORMAT_PRELUDES: readonly string[] = [...new Set(Object.values(STORAGES).flatMap((f) => f.prelude))];

/** The quantized formats: for MLP weights; a model's other matrices then keep f16. */
export const isQuant = (d: string): d is QuantDType => d in QUANT;
