// Loads a checkpoint's weights into a Decoder: every tensor's name and shape is checked before
// anything is uploaded, then the shards are streamed once, piece by piece, straight into GPU buffers
// (per-expert Hub tensors land in their slot of the stacked expert matrices on the way).
import { type Checkpoint, type LoadProgress, type RowSink, streamTensors } from '../io/checkpoint.js';
import { uploadBuffer } from '../gpu/workspace.js';
import { gemvKey } from '../kernels/tiles.js';
import { tuneGemm, tuneGemv } from '../moe/tune.js';
import { MoELayer } from '../moe/layer.js';
import { createExpertMatrix, destroyExpertMatrix, type ExpertMatrix, type ExpertShape, writeExpertRows } from '../weights/matrix.js';
import { type ModelConfig, moeConfigOf } from './config.js';
import type { ExternalExperts, MLPBlock } from '../moe/block.js';
import { Decoder, type DecoderLayer } from './decoder.js';
import { EMBED, type Family, FINAL_NORM, type LayerNames, LM_HEAD } from './families.js';
import { checkDecodable, decodeToF32 } from '../io/dtype.js';
import { canStore, storedRows } from '../weights/convert.js';
import { FORMATS, isQuant, type WeightDType, type WeightFormat } from '../weights/format.js';

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
  /** Positions the KV cache holds. Default min(max_position_embeddings, 2048). */
  contextLength?: number;
  signal?: AbortSignal;
  onProgress?: (p: LoadProgress) => void;
  /** Keep the routed experts of MoE layers off this device (the expert-parallel scheduler). */
  experts?: ExternalExperts;
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
  private readonly missing: string[] = [];

  constructor(private readonly ckpt: Checkpoint, private readonly family: string) {}

  /** `format`: the rows are stored in it (its own dtype passes through); none: they are decoded to f32. */
  add(name: string, shape: number[], sink: RowSink, format?: WeightFormat): void {
    const t = this.ckpt.tensors.get(name);
    if (!t) {
      this.missing.push(name);
      return;
    }
    if (t.shape.join() !== shape.join()) {
      throw new ModelLoadError(`webmoe: tensor ${name} in ${t.file} has shape [${t.shape}], ${this.family} config expects [${shape}]`);
    }
    if (!format || !canStore(format, t.dtype)) checkDecodable(t.dtype, `${t.file}: tensor '${name}'`);
    this.sinks.set(name, sink);
  }

  /** Rows into a stacked matrix, starting at its row `firstRow` (over [experts][parts][outputs]). */
  rows(device: GPUDevice, name: string, shape: number[], m: ExpertMatrix, firstRow: number): void {
    const format = FORMATS[m.dtype];
    this.add(name, shape, (r, rows) => writeExpertRows(device, m, firstRow + r, storedRows(format, rows, m.inner, name)), format);
  }

  /** A small tensor kept on the host. */
  host(name: string, shape: number[], out: Float32Array, at = 0): void {
    const width = shape[shape.length - 1];
    this.add(name, shape, (r, rows) => out.set(decodeToF32(rows.bytes, rows.dtype, name), at + r * width));
  }

  checkComplete(): void {
    if (this.missing.length) {
      const more = this.missing.length > 5 ? ` and ${this.missing.length - 5} more` : '';
      throw new ModelLoadError(`webmoe: the checkpoint lacks tensors the ${this.family} config needs: ${this.missing.slice(0, 5).join(', ')}${more}`);
    }
  }
}

interface HostLayer {
  inputNorm: Float32Array;
  postNorm: Float32Array;
  qkvBias: Float32Array;
  qkNorm: Float32Array;
}

export async function loadDecoder(
  device: GPUDevice, ckpt: Checkpoint, family: Family, c: ModelConfig, o: DecoderLoadOptions = {},
): Promise<Decoder> {
  const dtype = o.dtype ?? 'f32';
  const { hidden: H, heads, kvHeads, headDim: D, vocab: V } = c;
  const qkvRows = (heads + 2 * kvHeads) * D;
  const wants = new Wants(ckpt, c.family);
  // Everything made on the GPU, freed if the load fails or is aborted.
  const made: { destroy(): void }[] = [];
  const own = <T extends { destroy(): void }>(x: T): T => {
    made.push(x);
    return x;
  };
  // q8/q4 quantize the MLP weights only; the other matrices keep f16.
  // One matrix of each shape the decode GEMV runs on, with the slots a decode step gives it; the
  // GEMM's trial per storage takes K from its first MLP matrix (the bulk of prefill), else the first.
  const trials = new Map<string, [ExpertMatrix, number]>();
  const gemmTrials = new Map<WeightDType, number>();  // storage → K
  const matrix = (shape: ExpertShape, label: string, mlp = false) => {
    const m = createExpertMatrix(device, shape, mlp || !isQuant(dtype) ? dtype : 'f16', label);
    own({ destroy: () => destroyExpertMatrix(m) });
    if (!trials.has(gemvKey(m))) trials.set(gemvKey(m), [m, shape.experts > 1 ? c.topK : 1]);
    if (mlp && !gemmTrials.has(m.dtype)) gemmTrials.set(m.dtype, m.inner);
    return m;
  };
  const upload = (data: Float32Array, label: string) => own(uploadBuffer(device, data, label));
  try {
    const embed = matrix({ experts: 1, parts: 1, outputs: V, inner: H }, 'embedding');
    wants.rows(device, EMBED, [V, H], embed, 0);
    const lmHead = c.tieEmbeddings ? embed : matrix({ experts: 1, parts: 1, outputs: V, inner: H }, 'lm_head');
    if (!c.tieEmbeddings) wants.rows(device, LM_HEAD, [V, H], lmHead, 0);
    const finalNorm = new Float32Array(H);
    wants.host(FINAL_NORM, [H], finalNorm);

    const layers = Array.from({ length: c.layers }, (_, l) => {
      const names = family.layer(l);
      const label = `layer ${l}`;
      const host: HostLayer = {
        inputNorm: new Float32Array(H), postNorm: new Float32Array(H), qkvBias: new Float32Array(qkvRows),
        qkNorm: new Float32Array(c.qkNorm === 'head' ? 2 * D : c.qkNorm === 'full' ? qkvRows - kvHeads * D : 1),
      };
      wants.host(names.inputNorm, [H], host.inputNorm);
      wants.host(names.postNorm, [H], host.postNorm);
      const qkv = matrix({ experts: 1, parts: 1, outputs: qkvRows, inner: H }, `${label} qkv`);
      const qkvParts: [string, number, number][] = [[names.q, 0, heads * D], [names.k, heads * D, kvHeads * D], [names.v, (heads + kvHeads) * D, kvHeads * D]];
      for (const [name, at, rows] of qkvParts) wants.rows(device, name, [rows, H], qkv, at);
      if (c.qkvBias) names.qkvBias!.forEach((name, i) => wants.host(name, [qkvParts[i][2]], host.qkvBias, qkvParts[i][1]));
      if (c.qkNorm !== 'none') {
        const [qn, kn] = names.qkNorm!;
        const [qSize, kSize] = c.qkNorm === 'head' ? [D, D] : [heads * D, kvHeads * D];
        wants.host(qn, [qSize], host.qkNorm);
        wants.host(kn, [kSize], host.qkNorm, qSize);
      }
      const oProj = matrix({ experts: 1, parts: 1, outputs: H, inner: heads * D }, `${label} o`);
      wants.rows(device, names.o, [H, heads * D], oProj, 0);
      const mlp = c.sparse[l]
        ? sparseWeights(device, wants, names, c, matrix, label, o.experts && { layer: l, experts: o.experts })
        : denseWeights(device, wants, names, c, matrix, label);
      return { host, qkv, o: oProj, mlp };
    });
    wants.checkComplete();

    await streamTensors(ckpt, wants.sinks, { signal: o.signal, onProgress: o.onProgress });
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

    const decoderLayers: DecoderLayer[] = layers.map(({ host, qkv, o: oProj, mlp }, l) => ({
      inputNorm: upload(host.inputNorm, `layer ${l} input norm`),
      postNorm: upload(host.postNorm, `layer ${l} post-attention norm`),
      qkvBias: upload(host.qkvBias, `layer ${l} qkv bias`),
      qkNorm: upload(host.qkNorm, `layer ${l} q/k norm`),
      qkv, o: oProj,
      mlp: own(mlp()),
    }));
    const contextLength = o.contextLength ?? Math.min(c.maxPositions, 2048);
    return new Decoder(device, c, { embed, lmHead, finalNorm: upload(finalNorm, 'final norm'), layers: decoderLayers }, contextLength);
  } catch (e) {
    for (const m of made) m.destroy();
    throw e;
  }
}

type MakeMatrix = (shape: ExpertShape, label: string, mlp?: boolean) => ExpertMatrix;

/**
 * The MoE block's tensors; returns the layer's constructor, to run once the rows have arrived. With
 * `external`, the routed experts' rows go there instead of into matrices on this device.
 */
function sparseWeights(
  device: GPUDevice, wants: Wants, names: LayerNames, c: ModelConfig, matrix: MakeMatrix, label: string,
  external?: { layer: number; experts: ExternalExperts },
): () => MLPBlock {
  const { hidden: H, experts: E, moeIntermediate: I } = c;
  const router = new Float32Array(E * H);
  wants.host(names.router, [E, H], router);
  const gateUp = external ? undefined : matrix({ experts: E, parts: 2, outputs: I, inner: H }, `${label} experts gate/up`, true);
  const down = external ? undefined : matrix({ experts: E, parts: 1, outputs: H, inner: I }, `${label} experts down`, true);
  const rows = (which: 'gateUp' | 'down', name: string, shape: number[], firstRow: number) => {
    if (external) wants.add(name, shape, (r, rows) => external.experts.rows(external.layer, which, firstRow + r, rows), FORMATS[external.experts.dtype]);
    else wants.rows(device, name, shape, which === 'gateUp' ? gateUp! : down!, firstRow);
  };
  const ex = names.experts;
  if ('gateUp' in ex) {
    rows('gateUp', ex.gateUp, [E, 2 * I, H], 0);
    rows('down', ex.down, [E, H, I], 0);
  } else {
    for (let e = 0; e < E; e++) {
      rows('gateUp', ex.gate(e), [I, H], 2 * e * I);
      rows('gateUp', ex.up(e), [I, H], (2 * e + 1) * I);
      rows('down', ex.down(e), [H, I], e * H);
    }
  }
  let shared: { gateUp: ExpertMatrix; down: ExpertMatrix; gate: Float32Array } | undefined;
  if (c.sharedIntermediate && names.shared) {
    const S = c.sharedIntermediate;
    const s = names.shared;
    shared = {
      gateUp: matrix({ experts: 1, parts: 2, outputs: S, inner: H }, `${label} shared gate/up`, true),
      down: matrix({ experts: 1, parts: 1, outputs: H, inner: S }, `${label} shared down`, true),
      gate: new Float32Array(H),
    };
    wants.rows(device, s.gate, [S, H], shared.gateUp, 0);
    wants.rows(device, s.up, [S, H], shared.gateUp, S);
    wants.rows(device, s.down, [H, S], shared.down, 0);
    wants.host(s.sharedGate, [1, H], shared.gate);
  }
  const weights = {
    router,
    shared: shared && { intermediate: c.sharedIntermediate!, gateUp: shared.gateUp, down: shared.down, gate: shared.gate },
  };
  if (external) return () => MoELayer.withExperts(device, moeConfigOf(c), weights, external.experts.backend(external.layer), { label });
  return () => MoELayer.create(device, moeConfigOf(c), { ...weights, gateUp: gateUp!, down: down! }, { label });
}

/** A dense MLP, run as a MoE layer of one expert that every token goes to with weight 1. */
function denseWeights(device: GPUDevice, wants: Wants, names: LayerNames, c: ModelConfig, matrix: MakeMatrix, label: string): () => MoELayer {
  const { hidden: H } = c;
  const I = c.denseIntermediate!;
  const gateUp = matrix({ experts: 1, parts: 2, outputs: I, inner: H }, `${label} mlp gate/up`, true);
  const down = matrix({ experts: 1, parts: 1, outputs: H, inner: I }, `${label} mlp down`, true);
  wants.rows(device, names.dense.gate, [I, H], gateUp, 0);
  wants.rows(device, names.dense.up, [I, H], gateUp, I);
  wants.rows(device, names.dense.down, [H, I], down, 0);
  return () => MoELayer.create(device, { hidden: H, numExperts: 1, intermediate: I, topK: 1 }, { router: new Float32Array(H), gateUp, down }, { label });
}
