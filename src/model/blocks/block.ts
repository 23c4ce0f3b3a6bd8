// What a decoder layer is made of: an attention block and an MLP block, each declaring the tensors it
// reads from the checkpoint while the model loads, then recording its work into the decoder's plans.
// A family (families/) says which blocks each layer has; the decoder loop (decoder.ts) is one for all.
import type { RowSink } from '../../io/checkpoint.js';
import type { Step } from '../../gpu/steps.js';
import type { Dispatch, Workspace } from '../../gpu/workspace.js';
import type { SlotRows } from '../../kernels/combine.js';
import type { ExternalExperts } from '../../moe/backend.js';
import type { RoutingBuffers } from '../../moe/router.js';
import type { CheckpointStorage, WeightFormat } from '../../weights/format.js';
import type { ExpertMatrix, ExpertShape } from '../../weights/matrix.js';
import type { Mxfp4PlaneWriter, Mxfp4Shape } from '../../weights/mxfp4Rows.js';

/** One buffer of an attention block's KV cache, by the bytes one position takes in it. */
export interface CacheBuffer {
  name: string;
  bytesPerPosition: number;
}

/** What an attention block's plan reads and writes (AttentionBlock.plan). */
export interface AttentionIO {
  x: GPUBuffer;
  out: GPUBuffer;
  tokens: number;
  at: GPUBuffer;
  decode: boolean;
  cache: Record<string, GPUBuffer>;
  positions: number;
}

export interface AttentionBlock {
  /** The KV cache the decoder allocates for the block: its buffers, each for every position it holds. */
  readonly cache: readonly CacheBuffer[];
  /**
   * A sliding window W: queries read only the last W positions, so the cache holds a ring of fewer
   * positions than the context (position j in row j mod positions), which the decoder sizes
   * (decoder.ts). Absent: every position.
   */
  readonly window?: number;
  /**
   * Launches of out [T, H] = attention(x [T, H]) for tokens of one or several sequences: token t at
   * position at[t].x in KV slot at[t].y (`at`: [T] pairs of u32, written before each forward), writing
   * their keys and values into the cache (buffers by name, a region per slot of `positions` each: the
   * context, or the ring of a sliding window). `decode`: every token is in a different slot.
   */
  plan(ws: Workspace, io: AttentionIO): Dispatch[];
  destroy(): void;
}

export interface MLPBlock {
  /**
   * Steps of MLP(x [T, H]) into buffers of `ws`, left as each token's rows to sum (the decoder's next
   * RMSNorm sums them as it adds them to the residual: no combine launch of its own); a MoE block
   * also gives its routing buffers.
   */
  planRows(ws: Workspace, x: GPUBuffer, tokens: number): { steps: Step[]; rows: SlotRows; routing?: RoutingBuffers };
  /**
   * Steps on the layer's normed input x [T, H] before its attention runs, if any (the expert cache's
   * prefetch reads it there to predict the layer's experts while the attention runs).
   */
  ahead?(ws: Workspace, x: GPUBuffer, tokens: number): Step[];
  destroy(): void;
}

/** What a matrix is: the MLP's weights may be quantized (dtype q8/q4); the others then keep f16. */
export type MatrixRole = 'mlp' | 'other';

/** What a block gets while the checkpoint loads. */
export interface LoadContext {
  device: GPUDevice;
  /** 'layer 3', for GPU object labels */
  label: string;
  layer: number;
  /** Positions the KV caches hold. */
  contextLength: number;
  /**
   * An empty matrix on the GPU, in the storage the load gives its role, or in `storage`, the
   * checkpoint's own (MXFP4 experts: 'mxfp4'), whatever the `dtype`.
   */
  matrix(shape: ExpertShape, label: string, role: MatrixRole, storage?: CheckpointStorage): ExpertMatrix;
  /** Rows of tensor `name` (of `shape`) into `m`, from its row `firstRow` (over [experts][parts][outputs]). */
  rows(name: string, shape: number[], m: ExpertMatrix, firstRow: number): void;
  /**
   * An [E, R, K] weight as the Hub stores it in MXFP4 (gpt-oss): tensors `blocks` [E, R, K/32, 16]
   * and `scales` [E, R, K/32], both U8, into `m`, a matrix made with storage 'mxfp4' of E slots × R
   * rows (parts · outputs) × K inputs. The bytes go to the GPU as the file has them; row r of an
   * expert in the file lands at its matrix row rowOf(r), a permutation (default: the same row). For
   * gpt-oss's gate_up_proj (row 2i gate i, 2i + 1 up i): rowOf = (r) => (r % 2) * I + (r >> 1). With a
   * writer for `m`, the planes go to it instead (experts that live elsewhere: workers).
   */
  mxfp4Rows(blocks: string, scales: string, shape: Mxfp4Shape, m: ExpertMatrix | Mxfp4PlaneWriter, rowOf?: (r: number) => number): void;
  /** Rows of tensor `name` to `sink`, as stored; a dtype `format` cannot take (and no decoder reads) is refused first. */
  sink(name: string, shape: number[], sink: RowSink, format?: WeightFormat): void;
  /** A small tensor kept on the host as f32, at `out[at…]`. */
  host(name: string, shape: number[], out: Float32Array, at?: number): void;
  /**
   * A GPU buffer shared by the blocks of the model (a rotary table), made once per key on first use:
   * at the first forward, after the decoder has checked what the context length needs.
   */
  shared(key: string, make: () => GPUBuffer): () => GPUBuffer;
  /** Where the routed experts of MoE layers go when they are not loaded onto this device. */
  external?: ExternalExperts;
  /**
   * Reads rows of a declared tensor again from the source, by row range, to the sink declared for it:
   * part `part` of `parts` equal runs of its rows (one expert of a stacked [E, …] tensor: part e of E).
   */
  reread?: {
    source: string;
    rows(name: string, part: number, parts: number, signal?: AbortSignal): Promise<void>;
    /** The declared tensor is not streamed at load: its rows are only read again, when wanted. */
    later(name: string): void;
  };
}

/**
 * A block as a family names it: it declares its tensors on the load context and returns the block's
 * constructor, called once the rows have arrived.
 */
export type BlockLoader<B> = (ctx: LoadContext) => () => B;
