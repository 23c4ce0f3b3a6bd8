// The expert cache: the routed experts of every MoE layer live in the model source (and, as far as its
// budget goes, in a host tier of their stored bytes); the GPU holds a pool of expert slots under a byte
// budget, shared by all layers, each layer finding its experts through its own slot table. The load
// reads none of the experts. Per layer call (backend.ts): the routing is read back, the layer's
// distinct experts are made resident (a miss takes a free slot or the policy's victim, its bytes from
// the host tier or read from the source by row ranges) and the same expert kernels as the fused path
// run on the slots. A call that needs more experts than there are slots runs in batches of experts,
// each on the slots alone. With `prefetch`, a layer's input rows are read back before its attention
// to predict its experts (prefetch.ts), which are uploaded while the GPU runs the attention.
import type { RawRows } from '../../io/checkpoint.js';
import { recordSteps, type Step } from '../../gpu/steps.js';
import { mapRead, readBuffers, stageRead, uploadBuffer } from '../../gpu/workspace.js';
import { storedRows } from '../../weights/convert.js';
import { STORAGES, type WeightStorage } from '../../weights/format.js';
import { createExpertMatrix, destroyExpertMatrix, type ExpertMatrix, swigluExpertBytes } from '../../weights/matrix.js';
import type { ExpertBackend, ExpertSource, ExternalExperts } from '../backend.js';
import { tunePair } from '../fused.js';
import { NONE } from '../matmul.js';
import { NO_EXPERT } from '../router.js';
import type { MoEConfig } from '../spec.js';
import type { TileTrial } from '../tune.js';
import { CachedLayer } from './backend.js';
import { HostTier } from './host.js';
import { PackedExpert, packedShape, type PackedShape, type Which } from './packed.js';
import { EXPERT_CACHE_POLICIES, type ExpertCachePolicy, SlotPolicy } from './policy.js';
import { predictExperts } from './prefetch.js';
import { cacheStats, type ExpertCacheCounts, type ExpertCacheStats, noCounts } from './stats.js';

export interface ExpertCacheOptions {
  /** GPU bytes for routed experts (all MoE layers together); at least topK experts. */
  expertCacheBytes: number;
  /** Host bytes for experts' stored bytes; a miss beyond them is read from the model source again. Default 256 MiB. */
  hostCacheBytes?: number;
  /** Which slot a miss takes when none is free: 'lru' (default) or 'lfu' (with decay). */
  expertCachePolicy?: ExpertCachePolicy;
  /** Predict each MoE layer's experts from its input rows before its attention and upload them early. Default false. */
  prefetch?: boolean;
  /** Experts a token the prefetch predicts (its router's top ones): more raise recall and bytes uploaded. Default the model's topK. */
  prefetchTopK?: number;
  /**
   * Cache-aware routing: a resident expert's selection score is raised by this margin (router logits
   * for a softmax router, scores for a sigmoid one), so that among candidates within it of the k-th a
   * resident expert is chosen; the weights stay the model's. Changes the routing (and the logits).
   * Default 0: off.
   */
  cacheAwareMargin?: number;
}

export class ExpertCacheError extends Error {
  override name = 'ExpertCacheError';
}

const DEFAULT_HOST_BYTES = 256 * 1024 * 1024;

/** What a layer call hands the cache: its input rows, routed ids, and the expert kernels to run on the slots. */
export interface CallIO {
  x: GPUBuffer;
  ids: GPUBuffer;
  tokens: number;
  /** the call's experts a token (the routing controls may override the model's) */
  topK: number;
  ffn: Step[];
}

interface Layer {
  source?: ExpertSource;
  slotOf: GPUBuffer;
  /** the experts' biases, by expert (kept whole: a few floats an expert) */
  gateUpBias?: Float32Array;
  downBias?: Float32Array;
  /** the experts the prefetch predicted for the layer's next call */
  predicted?: Set<number>;
  /** shifts the layer router's choice (cache-aware routing) */
  route?: (extra: Float32Array) => void;
}

export class CachedExperts implements ExternalExperts {
  /** Nothing of the experts is read at load: each is read from the source at its first use. */
  readonly onDemand = true;
  /** GPU expert slots */
  readonly slots: number;
  readonly expertBytes: number;
  /** the slots' bytes on the GPU */
  get deviceBytes(): number {
    return this.slots * this.expertBytes;
  }
  private readonly pool: Record<Which, ExpertMatrix>;
  private readonly shape: PackedShape;
  /** the key (layer · E + expert) each slot holds, −1 for none */
  private readonly owner: Int32Array;
  private readonly slotOfKey = new Map<number, number>();
  private readonly free: number[];
  private readonly policy: SlotPolicy;
  private readonly host: HostTier;
  private readonly layers = new Map<number, Layer>();
  /** experts whose rows are being read for a miss */
  private readonly arriving = new Map<number, PackedExpert>();
  private counts = noCounts();
  /** layers whose resident experts changed since their router was last steered */
  private readonly unsteered = new Set<number>();
  /** the cache's work, one piece at a time: layer calls and prefetches */
  private serial: Promise<unknown> = Promise.resolve();
  private disposed = false;

  private constructor(
    private readonly device: GPUDevice,
    private readonly config: Readonly<MoEConfig>,
    private readonly sparse: readonly number[],
    readonly dtype: WeightStorage,
    private readonly options: Readonly<ExpertCacheOptions>,
  ) {
    const { hidden: H, intermediate: I, numExperts: E, topK } = config;
    this.expertBytes = swigluExpertBytes(H, I, dtype);
    this.slots = Math.min(Math.floor(options.expertCacheBytes / this.expertBytes), sparse.length * E);
    if (this.slots < topK) {
      const min = topK * this.expertBytes;
      throw new ExpertCacheError(
        `webmoe: expertCacheBytes ${options.expertCacheBytes} holds ${this.slots} experts of ${this.expertBytes} bytes (${dtype}); a layer runs topK = ${topK} at once: give at least ${min} bytes (${
          (min / 2 ** 20).toFixed(2)
        } MiB)`,
      );
    }
    this.shape = packedShape(H, I, dtype);
    this.pool = {
      gateUp: createExpertMatrix(device, { experts: this.slots, parts: 2, outputs: I, inner: H }, dtype, 'expert cache gate/up'),
      down: createExpertMatrix(device, { experts: this.slots, parts: 1, outputs: H, inner: I }, dtype, 'expert cache down'),
    };
    this.owner = new Int32Array(this.slots).fill(-1);
    this.free = Array.from({ length: this.slots }, (_, s) => this.slots - 1 - s);
    this.policy = new SlotPolicy(options.expertCachePolicy ?? 'lru', this.slots);
    this.host = new HostTier(options.hostCacheBytes ?? DEFAULT_HOST_BYTES);
    for (const l of sparse) {
      this.layers.set(l, { slotOf: uploadBuffer(device, new Uint32Array(E).fill(NONE), `layer ${l} expert cache slot table`) });
    }
  }

  /** `config`: the routed experts of every MoE layer (`layers`), all of one shape, stored as `dtype`. Throws ExpertCacheError on bad options. */
  static create(device: GPUDevice, config: Readonly<MoEConfig>, layers: readonly number[], dtype: WeightStorage, o: ExpertCacheOptions): CachedExperts {
    const bytes = (name: string, v: unknown) => {
      if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) {
        throw new ExpertCacheError(`webmoe: ${name} must be a number of bytes ≥ 0, got ${String(v)}`);
      }
    };
    bytes('expertCacheBytes', o.expertCacheBytes);
    if (o.hostCacheBytes !== undefined) bytes('hostCacheBytes', o.hostCacheBytes);
    if (o.cacheAwareMargin !== undefined && !(typeof o.cacheAwareMargin === 'number' && o.cacheAwareMargin >= 0 && Number.isFinite(o.cacheAwareMargin))) {
      throw new ExpertCacheError(`webmoe: cacheAwareMargin must be a finite number ≥ 0, got ${String(o.cacheAwareMargin)}`);
    }
    if (o.expertCachePolicy !== undefined && !EXPERT_CACHE_POLICIES.includes(o.expertCachePolicy)) {
      throw new ExpertCacheError(
        `webmoe: expertCachePolicy must be ${EXPERT_CACHE_POLICIES.map((p) => `'${p}'`).join(' or ')}, got ${String(o.expertCachePolicy)}`,
      );
    }
    if (o.prefetchTopK !== undefined) {
      if (o.prefetch !== true) throw new ExpertCacheError(`webmoe: prefetchTopK needs prefetch: true, got prefetch ${String(o.prefetch)}`);
      if (!Number.isInteger(o.prefetchTopK) || o.prefetchTopK < 1 || o.prefetchTopK > config.numExperts) {
        throw new ExpertCacheError(
          `webmoe: prefetchTopK must be an integer in 1…${config.numExperts} (the experts a layer has), got ${String(o.prefetchTopK)}`,
        );
      }
    }
    return new CachedExperts(device, config, layers, dtype, o);
  }

  rows(layer: number, matrix: Which, firstRow: number, rows: RawRows): void {
    const inner = matrix === 'gateUp' ? this.config.hidden : this.config.intermediate;
    this.receive(layer, matrix, 0, firstRow, storedRows(STORAGES[this.dtype], rows, inner, `layer ${layer} experts ${matrix}`));
  }

  plane(layer: number, matrix: Which, plane: number, firstRow: number, bytes: Uint8Array): void {
    this.receive(layer, matrix, plane, firstRow, bytes);
  }

  bias(layer: number, matrix: Which, firstExpert: number, values: Float32Array): void {
    const { numExperts: E, hidden: H, intermediate: I } = this.config;
    const width = matrix === 'gateUp' ? 2 * I : H;
    const l = this.layer(layer);
    const key = matrix === 'gateUp' ? 'gateUpBias' : 'downBias';
    (l[key] ??= new Float32Array(E * width)).set(values, firstExpert * width);
  }

  source(layer: number, s: ExpertSource): void {
    this.layer(layer).source = s;
  }

  /** Takes layer `layer`'s router steering, used when `cacheAwareMargin` is on. */
  steer(layer: number, route: (extra: Float32Array) => void): void {
    if (this.options.cacheAwareMargin) this.layer(layer).route = route;
  }

  backend(layer: number): ExpertBackend {
    const l = this.layer(layer);
    const bias = (b: Float32Array | undefined, what: string) => b && uploadBuffer(this.device, b, `layer ${layer} experts ${what} bias`);
    const pair = {
      ...this.pool,
      slotOf: l.slotOf,
      activation: this.config.activation,
      gateUpBias: bias(l.gateUpBias, 'gate/up'),
      downBias: bias(l.downBias, 'down'),
    };
    return new CachedLayer(this, layer, pair, { ...this.config, experts: this.config.numExperts });
  }

  /** Picks the kernels' tiles for the slot matrices on this device (before the first forward: plans keep their tiles). */
  tune(): Promise<TileTrial[]> {
    return tunePair(this.device, this.pool, this.config.topK);
  }

  /** Counters since load: a call's stats are stats(countsBefore). */
  countsNow(): ExpertCacheCounts {
    return { ...this.counts };
  }

  stats(since: ExpertCacheCounts = noCounts()): ExpertCacheStats {
    const E = this.config.numExperts;
    const resident = this.sparse.map((layer) => ({
      layer,
      experts: [...this.slotOfKey.keys()].filter((k) => Math.floor(k / E) === layer).map((k) => k % E).sort((a, b) => a - b),
    }));
    return cacheStats(this.counts, since, { slots: this.slots, expertBytes: this.expertBytes, resident });
  }

  dispose(): void {
    this.disposed = true;
    destroyExpertMatrix(this.pool.gateUp);
    destroyExpertMatrix(this.pool.down);
    for (const l of this.layers.values()) l.slotOf.destroy();
  }

  /**
   * Runs a layer call's experts (the encoder holds the work up to its routing): reads the routing back,
   * makes the experts resident batch by batch and submits the kernels on each; resolves to the encoder
   * the forward goes on in. `signal` (the call's) cancels the source reads in flight.
   */
  async run(layer: number, encoder: GPUCommandEncoder, io: CallIO, signal?: AbortSignal): Promise<GPUCommandEncoder> {
    const [idsBytes] = await readBuffers(this.device, [io.ids], encoder);
    // Slots the routing left empty (top-p, capacity, masks) need no expert.
    const needed = [...new Set(new Uint32Array(idsBytes, 0, io.tokens * io.topK))].filter((e) => e !== NO_EXPERT);
    await this.exclusive(async () => {
      this.tally(layer, needed, io.tokens);
      const E = this.config.numExperts;
      // The resident ones first: the first batch then needs no slot given up.
      const held = (e: number) => this.slotOfKey.has(layer * E + e);
      const order = [...needed.filter(held), ...needed.filter((e) => !held(e))];
      for (let b = 0; b < order.length; b += this.slots) {
        const pinned = new Set<number>();
        const table = new Uint32Array(E).fill(NONE);
        for (const e of order.slice(b, b + this.slots)) table[e] = await this.resident(layer, e, pinned, true, signal);
        this.device.queue.writeBuffer(this.layer(layer).slotOf, 0, table);
        const batch = this.device.createCommandEncoder({ label: `layer ${layer} cached experts` });
        recordSteps(batch, io.ffn, 'cached experts');
        this.device.queue.submit([batch.finish()]);
      }
      this.steerRouters();
    });
    return this.device.createCommandEncoder({ label: 'decoder forward' });
  }

  /** Whether layers read their input rows back to predict their experts (the `prefetch` option). */
  get prefetching(): boolean {
    return this.options.prefetch === true;
  }

  /**
   * Submits `encoder` (the forward up to `layer`'s input norm) with a copy of its normed input rows x,
   * and queues their prediction of the layer's experts and the uploads, which go on while the GPU
   * runs the layer's attention; the layer's call waits for them. Returns the encoder to go on in.
   */
  ahead(layer: number, encoder: GPUCommandEncoder, x: GPUBuffer, tokens: number, signal?: AbortSignal): GPUCommandEncoder {
    const staged = stageRead(this.device, encoder, x);
    this.device.queue.submit([encoder.finish()]);
    const rows = mapRead(staged);
    // A failed prefetch is only a guess lost: the layer's own miss reads the expert again (and names the failure).
    // (The readback may fail before the cache's earlier work is done: it is awaited only then.)
    rows.catch(() => undefined);
    this.exclusive(async () => this.prefetch(layer, new Float32Array(await rows, 0, tokens * this.config.hidden), tokens, signal)).catch(() => undefined);
    return this.device.createCommandEncoder({ label: 'decoder forward' });
  }

  /** Runs `f` after the cache's earlier work; a failure fails this call only. */
  private exclusive<T>(f: () => Promise<T>): Promise<T> {
    const run = this.serial.then(f);
    this.serial = run.catch(() => undefined);
    return run;
  }

  private tally(layer: number, needed: number[], tokens: number): void {
    if (layer === this.sparse[0]) this.counts.tokens += tokens;
    const l = this.layer(layer);
    if (!l.predicted) return;
    this.counts.predicted += l.predicted.size;
    this.counts.predictedUsed += needed.filter((e) => l.predicted!.has(e)).length;
    this.counts.predictable += needed.length;
    l.predicted = undefined;
  }

  /** Uploads the experts the layer's router picks on these rows (its input, before its attention), as far as the slots go. */
  private async prefetch(layer: number, x: Float32Array, tokens: number, signal?: AbortSignal): Promise<void> {
    const l = this.layer(layer);
    if (!l.source) return;
    const { hidden, numExperts, topK, scoring } = this.config;
    l.predicted = predictExperts(l.source, x, tokens, hidden, numExperts, this.options.prefetchTopK ?? topK, scoring === 'sigmoid');
    const pinned = new Set<number>();
    for (const e of [...l.predicted].slice(0, this.slots)) await this.resident(layer, e, pinned, false, signal);
    this.steerRouters();
  }

  /** Raises the resident experts' selection scores by the margin in the routers of the layers whose residents changed. */
  private steerRouters(): void {
    const E = this.config.numExperts;
    for (const layer of this.unsteered) {
      const extra = new Float32Array(E);
      for (let e = 0; e < E; e++) if (this.slotOfKey.has(layer * E + e)) extra[e] = this.options.cacheAwareMargin!;
      this.layer(layer).route?.(extra);
    }
    this.unsteered.clear();
  }

  /** The slot of `layer`'s expert `e`, uploaded into one first if not resident; pins it. `count`: a layer call's use (hits and misses). */
  private async resident(layer: number, e: number, pinned: Set<number>, count: boolean, signal?: AbortSignal): Promise<number> {
    // A call or prefetch still running when the engine is disposed must not write into freed buffers.
    if (this.disposed) throw new ExpertCacheError('webmoe: the expert cache was disposed');
    const key = layer * this.config.numExperts + e;
    const held = this.slotOfKey.get(key);
    if (held !== undefined) {
      if (count) this.counts.hits++;
      this.policy.use(held);
      pinned.add(held);
      return held;
    }
    if (count) this.counts.misses++;
    let packed = this.host.get(key);
    if (packed) this.counts.hostHits++;
    else packed = await this.fetch(layer, e, signal);
    const slot = this.free.pop() ?? this.policy.victim(pinned);
    if (slot < 0) throw new ExpertCacheError(`webmoe: no expert slot left for layer ${layer} expert ${e} (${this.slots} slots, all in use)`);
    this.place(key, packed, slot);
    this.counts.bytesUploaded += packed.bytes;
    pinned.add(slot);
    return slot;
  }

  private place(key: number, packed: PackedExpert, slot: number): void {
    // The slot holds nothing until the upload is queued: a failure midway leaves no expert on torn bytes.
    const old = this.owner[slot];
    if (old >= 0) this.slotOfKey.delete(old);
    if (this.options.cacheAwareMargin) {
      const E = this.config.numExperts;
      if (old >= 0) this.unsteered.add(Math.floor(old / E));
      this.unsteered.add(Math.floor(key / E));
    }
    this.owner[slot] = -1;
    packed.upload(this.device, this.pool, slot);
    this.owner[slot] = key;
    this.slotOfKey.set(key, slot);
    this.policy.use(slot, true);
  }

  /**
   * Reads expert `e` of `layer` again from the model source (its rows arrive through rows()/plane()),
   * into the host tier. An abort of `signal` cancels the read (the source's fetch or file read gets it)
   * and throws the signal's reason, as an aborted call does; the rows read so far are dropped.
   */
  private async fetch(layer: number, e: number, signal?: AbortSignal): Promise<PackedExpert> {
    const key = layer * this.config.numExperts + e;
    const source = this.layer(layer).source;
    if (!source) throw new ExpertCacheError(`webmoe: layer ${layer} expert ${e} is not resident and the loader gave no source to read it from`);
    const packed = new PackedExpert(this.shape);
    this.arriving.set(key, packed);
    try {
      await source.read(e, signal);
    } catch (cause) {
      if (signal?.aborted) throw signal.reason;
      throw new ExpertCacheError(`webmoe: reading layer ${layer} expert ${e} from ${source.name} failed: ${(cause as Error).message}`, { cause });
    } finally {
      this.arriving.delete(key);
    }
    if (this.disposed) throw new ExpertCacheError('webmoe: the expert cache was disposed');
    if (!packed.complete) throw new ExpertCacheError(`webmoe: reading layer ${layer} expert ${e} from ${source.name} gave only part of its rows`);
    this.counts.sourceReads++;
    this.host.put(key, packed);
    return packed;
  }

  /** Rows of one plane arriving for a fetch, spread over the experts they belong to. */
  private receive(layer: number, which: Which, plane: number, firstRow: number, bytes: Uint8Array): void {
    const { rows, planes } = this.shape[which];
    const width = planes[plane];
    const n = bytes.length / width;
    for (let r = 0; r < n;) {
      const e = Math.floor((firstRow + r) / rows);
      const count = Math.min(n - r, (e + 1) * rows - firstRow - r);
      const key = layer * this.config.numExperts + e;
      const p = this.arriving.get(key);
      if (!p) throw new ExpertCacheError(`webmoe: rows of layer ${layer} expert ${e} arrived unasked (the cache reads experts only on demand)`);
      p.put(which, plane, firstRow + r - e * rows, bytes.subarray(r * width, (r + count) * width));
      r += count;
    }
  }

  private layer(layer: number): Layer {
    const l = this.layers.get(layer);
    if (!l) throw new ExpertCacheError(`webmoe: layer ${layer} is not one of the cache's MoE layers (${this.sparse.join(', ')})`);
    return l;
  }
}
