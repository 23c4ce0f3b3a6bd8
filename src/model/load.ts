// Loads a checkpoint's weights into a Decoder: the family names each layer's blocks, which declare
// their tensors; every name and shape is checked before anything is uploaded, and every tensor of the
// checkpoint must be one of them. Then the shards are streamed once, piece by piece, straight into
// GPU buffers (per-expert Hub tensors land in their slot of the stacked expert matrices on the way).
import { type Checkpoint, type LoadProgress, readRows, type RowSink, streamTensors } from '../io/checkpoint.js';
import type { TensorInfo } from '../io/safetensors.js';
import { checkDecodable, decodeToF32 } from '../io/dtype.js';
import { checkFinite } from '../io/finite.js';
import { uploadBuffer } from '../gpu/workspace.js';
import { gemvKey } from '../kernels/tiles.js';
import type { ExternalExperts } from '../moe/backend.js';
import { tuneGemm, tuneGemv } from '../moe/tune.js';
import { canStore, storedRows } from '../weights/convert.js';
import { type CheckpointStorage, isQuant, STORAGES, WEIGHT_DTYPES, type WeightDType, type WeightFormat, type WeightStorage } from '../weights/format.js';
import { createExpertMatrix, destroyExpertMatrix, expertBytes, type ExpertMatrix, type ExpertShape, writeExpertRows } from '../weights/matrix.js';
import { type Mxfp4PlaneWriter, type Mxfp4Shape, mxfp4PlaneSinks, mxfp4Sinks, mxfp4TensorShapes } from '../weights/mxfp4Rows.js';
import type { AttentionBlock, LoadContext, MatrixRole, MLPBlock } from './blocks/block.js';
import { configKey, type ModelConfig } from './config.js';
import { Decoder } from './decoder.js';
import { checkMemory, kvCacheBytes } from './memory.js';
import type { Family } from './families/family.js';

export class ModelLoadError extends Error {
  override name = 'ModelLoadError';
}

export interface DecoderLoadOptions {
  /**
   * Storage of the big matrices (attention, experts, embedding); compute is f32 either way. With 'q8'
   * or 'q4' the MLP weights (routed, shared and dense experts) are quantized as they stream in and
   * attention, embedding and lm_head are stored f16.
   */
  dtype?: WeightDType;
  /** Positions the KV cache holds, per sequence. Default min(max_position_embeddings, 2048). */
  contextLength?: number;
  /**
   * Sequences the KV cache holds at once, each in its own region of contextLength positions
   * (Decoder.forwardBatch runs several in one forward). Default 1; each one costs a whole cache.
   */
  maxSequences?: number;
  signal?: AbortSignal;
  onProgress?: (p: LoadProgress) => void;
  /** Keep the routed experts of MoE layers off this device (the expert-parallel scheduler). */
  experts?: ExternalExperts;
  /**
   * Refuse (ModelMemoryError, before anything is allocated) a model whose weights and KV cache on the
   * GPU would take more bytes than this. Default: no limit (WebGPU does not tell a device's memory);
   * webmoe/node sets the host's memory on a software adapter, whose GPU memory is the host's.
   */
  memoryLimit?: number;
  /**
   * Time the decode GEMV's tile shapes on each distinct matrix shape, and the prefill GEMM's once
   * per storage, once the weights are in, and keep the fastest for this device
   * (src/kernels/tiles.ts). Default true; what was tuned before on the device is skipped.
   */
  tune?: boolean;
}

/** Tensors wanted from the checkpoint, with their expected shapes and where their rows go. */
class Wants {
  readonly sinks = new Map<string, RowSink>();
  /** declared tensors read only later, by row ranges (reread), never streamed at load */
  readonly later = new Set<string>();
  private readonly missing: string[] = [];

  constructor(private readonly ckpt: Checkpoint, private readonly family: string) {}

  /**
   * `format`: the rows are stored in it (its own dtype passes through); none: they are decoded to f32.
   * Every float row is checked finite on its way in, before the sink sees it.
   */
  add(name: string, shape: number[], sink: RowSink, format?: WeightFormat): void {
    const t = this.tensor(name, shape);
    if (!t) return;
    if (!format || !canStore(format, t.dtype)) checkDecodable(t.dtype, `${t.file}: tensor '${name}'`);
    const width = shape.length ? shape[shape.length - 1] : 1;
    this.sinks.set(name, (r, rows) => {
      checkFinite(rows.bytes, rows.dtype, t.file, name, r, width);
      return sink(r, rows);
    });
  }

  /** The tensor, its shape checked; none (noted missing) where the checkpoint lacks it. */
  tensor(name: string, shape: number[]): TensorInfo | undefined {
    const t = this.ckpt.tensors.get(name);
    if (!t) {
      this.missing.push(name);
      return undefined;
    }
    if (t.shape.join() !== shape.join()) {
      throw new ModelLoadError(`webmoe: tensor ${name} in ${t.file} has shape [${t.shape}], ${this.family} config expects [${shape}]`);
    }
    return t;
  }

  /** A Hub MXFP4 pair (U8 blocks and scales) of an [E, R, K] weight into `m` (or its planes to a writer), file row r at rowOf(r). */
  mxfp4(device: GPUDevice, blocks: string, scales: string, shape: Mxfp4Shape, m: ExpertMatrix | Mxfp4PlaneWriter, rowOf?: (r: number) => number): void {
    const want = mxfp4TensorShapes(shape);
    const b = this.tensor(blocks, want.blocks);
    const s = this.tensor(scales, want.scales);
    for (const t of [b, s]) {
      if (t && t.dtype !== 'U8') throw new ModelLoadError(`webmoe: tensor ${t.name} in ${t.file} has dtype ${t.dtype}, MXFP4 blocks and scales are U8`);
    }
    if (!b || !s) return; // noted missing: the load stops before it streams
    const sinks = typeof m === 'function' ? mxfp4PlaneSinks(shape, s, m, rowOf) : mxfp4Sinks(device, m, shape, s, rowOf);
    this.sinks.set(blocks, sinks.blocks);
    this.sinks.set(scales, sinks.scales);
  }

  /** Rows into a stacked matrix, starting at its row `firstRow` (over [experts][parts][outputs]). */
  rows(device: GPUDevice, name: string, shape: number[], m: ExpertMatrix, firstRow: number): void {
    const format = STORAGES[m.dtype];
    this.add(name, shape, (r, rows) => writeExpertRows(device, m, firstRow + r, storedRows(format, rows, m.inner, name)), format);
  }

  /** Part `part` of `parts` equal runs of tensor `name`'s rows, read again by row range, to its sink. */
  async reread(name: string, part: number, parts: number, signal?: AbortSignal): Promise<void> {
    const t = this.ckpt.tensors.get(name)!;
    const rows = t.shape.slice(0, -1).reduce((a, b) => a * b, 1) / parts;
    await this.sinks.get(name)!(part * rows, await readRows(this.ckpt, name, part * rows, rows, signal));
  }

  /** A small tensor kept on the host. */
  host(name: string, shape: number[], out: Float32Array, at = 0): void {
    const width = shape[shape.length - 1];
    this.add(name, shape, (r, rows) => out.set(decodeToF32(rows.bytes, rows.dtype, name), at + r * width));
  }

  /**
   * Every tensor of the checkpoint is read: one no block declared would be silently dropped from the
   * arithmetic (a layer or expert beyond the config's count, lm_head beside tied embeddings, a bias
   * the config turns off).
   */
  checkAllRead(c: ModelConfig, lmHead: string): void {
    const unread = [...this.ckpt.tensors.values()].filter((t) => !this.sinks.has(t.name));
    if (!unread.length) return;
    const config = `config.json (${this.family})`;
    for (const { name, file } of unread) {
      const tensor = `the checkpoint has ${name} (${file})`;
      if (name === lmHead && c.tieEmbeddings) {
        throw new ModelLoadError(`webmoe: ${tensor}, but ${config} has tie_word_embeddings true: expected no ${lmHead}, or tie_word_embeddings false`);
      }
      const layer = Number(/(?:^|\.)layers\.(\d+)\./.exec(name)?.[1] ?? -1);
      if (layer >= c.layers) throw new ModelLoadError(`webmoe: ${tensor} of layer ${layer}, but ${config} has ${configKey('layers')} ${c.layers}`);
      const expert = Number(/\.experts\.(\d+)\./.exec(name)?.[1] ?? -1);
      if (expert >= c.experts) throw new ModelLoadError(`webmoe: ${tensor} of expert ${expert}, but ${config} has ${configKey('experts')} ${c.experts}`);
    }
    const more = unread.length > 5 ? ` and ${unread.length - 5} more` : '';
    throw new ModelLoadError(
      `webmoe: the checkpoint has tensors the ${this.family} config does not read: ${unread.slice(0, 5).map((t) => `${t.name} (${t.file})`).join(', ')}${more}`,
    );
  }

  checkComplete(): void {
    if (this.missing.length) {
      const more = this.missing.length > 5 ? ` and ${this.missing.length - 5} more` : '';
      throw new ModelLoadError(`webmoe: the checkpoint lacks tensors the ${this.family} config needs: ${this.missing.slice(0, 5).join(', ')}${more}`);
    }
  }
}

/** The model's blocks and host tensors, declared (not yet made) in checkpoint order. */
interface Declared {
  embed: ExpertMatrix;
  lmHead: ExpertMatrix;
  finalNorm: Float32Array;
  layers: { inputNorm: Float32Array; postNorm: Float32Array; attention: () => AttentionBlock; mlp: () => MLPBlock }[];
}

/**
 * Declares every tensor of the model on the contexts: the embedding, each layer's norms and blocks
 * (as the family names them), the final norm and lm_head.
 */
function declare(family: Family, c: ModelConfig, ctx: (layer: number) => LoadContext): Declared {
  const { hidden: H, vocab: V } = c;
  const top = ctx(-1);
  const table = (label: string) => top.matrix({ experts: 1, parts: 1, outputs: V, inner: H }, label, 'other');
  const embed = table('embedding');
  top.rows(family.tensors.embed, [V, H], embed, 0);
  const layers = Array.from({ length: c.layers }, (_, l) => {
    const spec = family.layer(c, l);
    const at = ctx(l);
    const inputNorm = new Float32Array(H);
    const postNorm = new Float32Array(H);
    at.host(spec.inputNorm, [H], inputNorm);
    const attention = spec.attention(at);
    at.host(spec.postNorm, [H], postNorm);
    return { inputNorm, postNorm, attention, mlp: spec.mlp(at) };
  });
  const finalNorm = new Float32Array(H);
  top.host(family.tensors.finalNorm, [H], finalNorm);
  const lmHead = c.tieEmbeddings ? embed : table('lm_head');
  if (!c.tieEmbeddings) top.rows(family.tensors.lmHead, [V, H], lmHead, 0);
  return { embed, lmHead, finalNorm, layers };
}

export async function loadDecoder(
  device: GPUDevice,
  ckpt: Checkpoint,
  family: Family,
  c: ModelConfig,
  o: DecoderLoadOptions = {},
): Promise<Decoder> {
  const dtype = o.dtype ?? 'f32';
  if (!WEIGHT_DTYPES.includes(dtype)) { // 'mxfp4' too: a checkpoint's own storage, not a choice
    throw new ModelLoadError(`webmoe: dtype must be one of ${WEIGHT_DTYPES.map((d) => `'${d}'`).join(', ')}, got ${String(dtype)}`);
  }
  const contextLength = o.contextLength ?? Math.min(c.maxPositions, 2048);
  const maxSequences = o.maxSequences ?? 1;
  if (!(Number.isInteger(maxSequences) && maxSequences >= 1)) {
    throw new RangeError(`webmoe: maxSequences must be a positive integer, got ${String(maxSequences)}`);
  }
  const wants = new Wants(ckpt, c.family);
  // Everything made on the GPU but the blocks, freed with the model, or if the load fails or is aborted.
  const made: { destroy(): void }[] = [];
  const own = <T extends { destroy(): void }>(x: T): T => {
    made.push(x);
    return x;
  };
  const blocks: { destroy(): void }[] = [];
  const block = <T extends { destroy(): void }>(x: T): T => {
    blocks.push(x);
    return x;
  };
  // q8/q4 quantize the MLP weights only; the other matrices keep f16.
  // One matrix of each shape the decode GEMV runs on, with the slots a decode step gives it; the
  // GEMM's trial per storage takes K from its first MLP matrix (the bulk of prefill), else the first.
  const trials = new Map<string, [ExpertMatrix, number]>();
  const gemmTrials = new Map<WeightStorage, number>(); // storage → K
  const matrix = (shape: ExpertShape, label: string, role: MatrixRole, storage?: CheckpointStorage) => {
    const m = createExpertMatrix(device, shape, storageOf(dtype, role, storage), label);
    own({ destroy: () => destroyExpertMatrix(m) });
    if (!trials.has(gemvKey(m))) trials.set(gemvKey(m), [m, shape.experts > 1 ? c.topK : 1]);
    if (role === 'mlp' && !gemmTrials.has(m.dtype)) gemmTrials.set(m.dtype, m.inner);
    return m;
  };
  const shared = new Map<string, GPUBuffer>();
  const ctx = (layer: number): LoadContext => ({
    device,
    layer,
    label: layerLabel(layer),
    contextLength,
    matrix,
    rows: (name, shape, m, firstRow) => wants.rows(device, name, shape, m, firstRow),
    mxfp4Rows: (blocks, scales, shape, m, rowOf) => wants.mxfp4(device, blocks, scales, shape, m, rowOf),
    sink: (name, shape, sink, format) => wants.add(name, shape, sink, format),
    host: (name, shape, out, at) => wants.host(name, shape, out, at),
    shared: (key, make) => () => {
      let b = shared.get(key);
      if (!b) shared.set(key, b = own(make()));
      return b;
    },
    external: o.experts,
    reread: { source: ckpt.source.name, rows: (name, part, parts, signal) => wants.reread(name, part, parts, signal), later: (name) => wants.later.add(name) },
  });
  try {
    // Names and shapes first, on a dry declaration: nothing is allocated for a config that disagrees
    // with the checkpoint (its sizes are then the checkpoint's, which exists).
    const dry = new Wants(ckpt, c.family);
    const declared = declaredWeights(family, c, dtype, o.experts);
    for (const { name, shape } of declared.tensors) dry.tensor(name, shape);
    dry.checkComplete();
    checkMemory({ weights: declared.gpuBytes + (o.experts?.deviceBytes ?? 0), kvCache: kvCacheBytes(c, contextLength, maxSequences) }, o.memoryLimit,
      ckpt.source.name);
    const model = declare(family, c, ctx);
    wants.checkComplete();
    wants.checkAllRead(c, family.tensors.lmHead);

    const now = new Map([...wants.sinks].filter(([name]) => !wants.later.has(name)));
    await streamTensors(ckpt, now, { signal: o.signal, onProgress: o.onProgress });
    if (o.tune ?? true) {
      for (const [m, slots] of trials.values()) {
        o.signal?.throwIfAborted();
        await tuneGemv(device, m, slots);
        if (!gemmTrials.has(m.dtype)) gemmTrials.set(m.dtype, m.inner);
      }
      for (const [storage, inner] of gemmTrials) {
        o.signal?.throwIfAborted();
        await tuneGemm(device, storage, inner);
      }
    }

    const upload = (data: Float32Array, label: string) => own(uploadBuffer(device, data, label));
    const layers = model.layers.map((l, i) => ({
      inputNorm: upload(l.inputNorm, `layer ${i} input norm`),
      postNorm: upload(l.postNorm, `layer ${i} post-attention norm`),
      attention: block(l.attention()),
      mlp: block(l.mlp()),
    }));
    const weights = { embed: model.embed, lmHead: model.lmHead, finalNorm: upload(model.finalNorm, 'final norm'), layers };
    // The decoder frees its blocks and what the load made, shared buffers made later included (the same list).
    return new Decoder(device, c, { ...weights, owned: made }, contextLength, maxSequences);
  } catch (e) {
    for (const m of [...blocks, ...made]) m.destroy();
    throw e;
  }
}

/** What a block's GPU objects and errors are labelled with. */
const layerLabel = (layer: number): string => (layer < 0 ? 'model' : `layer ${layer}`);

/** The storage of a matrix: the checkpoint's own if it has one; q8/q4 quantize the MLP weights only, the others keep f16. */
const storageOf = (dtype: WeightDType, role: MatrixRole, storage?: CheckpointStorage): WeightStorage =>
  storage ?? (role === 'mlp' || !isQuant(dtype) ? dtype : 'f16');

/**
 * The tensors a model of this family and config reads, in the order it declares them (embedding,
 * each layer, final norm, lm_head): what a checkpoint must hold (the synthetic benchmark model's).
 */
export const checkpointTensors = (family: Family, c: ModelConfig): { name: string; shape: number[] }[] => declaredWeights(family, c).tensors;

/**
 * A dry declaration of the model: the tensors it reads, and the bytes its matrices take on the GPU
 * at `dtype` (routed experts kept by `external` are not on it).
 */
export function declaredWeights(
  family: Family,
  c: ModelConfig,
  dtype: WeightDType = 'f32',
  external?: ExternalExperts,
): { tensors: { name: string; shape: number[] }[]; gpuBytes: number } {
  const out: { name: string; shape: number[] }[] = [];
  let gpuBytes = 0;
  const add = (name: string, shape: number[]) => void out.push({ name, shape });
  const ctx = (layer: number): LoadContext => ({
    device: undefined as unknown as GPUDevice,
    layer,
    label: layerLabel(layer),
    contextLength: 1,
    matrix: (shape, _label, role, storage) => {
      const s = storageOf(dtype, role, storage);
      gpuBytes += shape.experts * expertBytes(shape, s);
      return { ...shape, dtype: s, chunks: [] };
    },
    rows: add,
    mxfp4Rows: (blocks, scales, shape) => {
      const want = mxfp4TensorShapes(shape);
      add(blocks, want.blocks);
      add(scales, want.scales);
    },
    sink: add,
    host: add,
    shared: () => () => undefined as unknown as GPUBuffer,
    external,
  });
  declare(family, c, ctx);
  return { tensors: out, gpuBytes };
}
