// The expert-parallel scheduler: the routed experts of every MoE layer sharded over workers (a GPU
// device each, or the CPU), the rest of the model on the coordinator's device. Loading: the
// checkpoint streams once through the coordinator, which hands each expert's rows to its worker.
// Per MoE layer and forward: the layer's block routes on the device (the same router as the fused
// path, biases and mask included); the routing and the normed rows come back, rows are batched by
// expert, each worker gets only its rows (transferred, not copied), and the slots' weighted outputs
// go back to the device for the block's combine (backend.ts).
import { type Remote, transfer, wrap } from 'comlink';
import type { RawRows } from '../../io/checkpoint.js';
import { DTYPE_BYTES } from '../../io/dtype.js';
import { guard, spawnWorker, WorkerError, type WorkerHandle } from '../../platform/workers.js';
import { STORAGES, type WeightStorage } from '../../weights/format.js';
import { swigluExpertBytes } from '../../weights/matrix.js';
import type { ExpertBackend, ExternalExperts } from '../backend.js';
import { NO_EXPERT as NONE } from '../router.js';
import type { MoEConfig } from '../spec.js';
import { ShardedExperts } from './backend.js';
import { describeShard, type Placement, type PlacementOptions, planPlacement, type WorkerKind } from './placement.js';
import type { ShardApi } from './shard.js';

export interface ExpertParallelOptions extends PlacementOptions {
  /** The shard worker script: a URL, or one per worker. Default: the built one beside the package's modules. */
  shardWorkerUrl?: string | URL | ((worker: number, kind: WorkerKind) => string | URL | undefined);
}

/** Where the time of the MoE layers went, summed over the forwards since the last reset. */
export interface ExpertParallelStats {
  /** MoE layer calls */
  layerCalls: number;
  /** waiting for the coordinator's device (the layers' attention etc.) and reading back routing and rows */
  readbackMs: number;
  /** batching rows by expert and gathering the workers' outputs into slot order, on the coordinator */
  hostMs: number;
  /** from sending the batches to having every worker's output */
  roundTripMs: number;
  /** per layer call, the slowest worker's own compute time (kernels + its uploads and readback, or CPU math) */
  expertMs: number;
  /** roundTripMs − expertMs: messages, copies and waiting */
  transferMs: number;
  bytesToWorkers: number;
  bytesFromWorkers: number;
  /** rows each worker computed */
  rowsPerWorker: number[];
}

interface Shard {
  index: number;
  kind: WorkerKind;
  handle: WorkerHandle;
  api: Remote<ShardApi>;
}

interface LayerMap {
  /** worker of each expert */
  owner: Int32Array;
  /** index of each expert among its worker's experts */
  local: Int32Array;
  lists: number[][];
}

export class ExpertCoordinator implements ExternalExperts {
  private stats_: ExpertParallelStats;
  private readonly maps = new Map<number, LayerMap>();
  private disposed = false;

  private constructor(
    private readonly device: GPUDevice,
    private readonly config: Readonly<MoEConfig>,
    readonly dtype: WeightStorage,
    readonly placement: Placement,
    private readonly shards: Shard[],
  ) {
    for (const [l, lists] of placement.layers) {
      const owner = new Int32Array(config.numExperts);
      const local = new Int32Array(config.numExperts);
      lists.forEach((list, w) =>
        list.forEach((e, i) => {
          owner[e] = w;
          local[e] = i;
        })
      );
      this.maps.set(l, { owner, local, lists });
    }
    this.stats_ = this.emptyStats();
  }

  /** Places the experts (a bad placement throws PlacementError before any worker starts), starts the workers. */
  /** `config`: the routed experts of every MoE layer (`layers`), all of one shape. */
  static async start(device: GPUDevice, config: Readonly<MoEConfig>, layers: number[], dtype: WeightStorage,
    o: ExpertParallelOptions): Promise<ExpertCoordinator>
  {
    const { hidden: H, intermediate: I, numExperts: E } = config;
    const sparse = layers;
    const placement = planPlacement(o, E, sparse, swigluExpertBytes(H, I, dtype));
    const shards: Shard[] = [];
    try {
      for (const [index, kind] of placement.kinds.entries()) {
        const url = typeof o.shardWorkerUrl === 'function' ? o.shardWorkerUrl(index, kind) : o.shardWorkerUrl;
        const handle = spawnWorker('shard', url);
        shards.push({ index, kind, handle, api: wrap<ShardApi>(handle.endpoint) });
      }
      const coordinator = new ExpertCoordinator(device, config, dtype, placement, shards);
      await Promise.all(shards.map((s) =>
        coordinator.call(s, 'while starting', (api) =>
          api.init({
            kind: s.kind,
            hidden: H,
            intermediate: I,
            dtype,
            activation: config.activation,
            layers: [...placement.layers].map(([l, lists]) => [l, lists[s.index].length]),
          }))
      ));
      return coordinator;
    } catch (e) {
      for (const s of shards) s.handle.terminate();
      throw e;
    }
  }

  rows(layer: number, matrix: 'gateUp' | 'down', firstRow: number, rows: RawRows): Promise<void> {
    const { intermediate: I, hidden: H } = this.config;
    const rowBytes = (matrix === 'gateUp' ? H : I) * DTYPE_BYTES[rows.dtype];
    return this.toOwners(layer, matrix === 'gateUp' ? 2 * I : H, firstRow, rows.bytes, rowBytes,
      (api, at, piece) => api.rows(layer, matrix, at, transfer({ dtype: rows.dtype, bytes: piece }, [piece.buffer])));
  }

  bias(layer: number, matrix: 'gateUp' | 'down', firstExpert: number, values: Float32Array): Promise<void> {
    const width = matrix === 'gateUp' ? 2 * this.config.intermediate : this.config.hidden;
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    return this.toOwners(layer, 1, firstExpert, bytes, width * 4,
      (api, at, piece) => api.bias(layer, matrix, at, transfer(new Float32Array(piece.buffer), [piece.buffer])));
  }

  plane(layer: number, matrix: 'gateUp' | 'down', plane: number, firstRow: number, bytes: Uint8Array): Promise<void> {
    const { intermediate: I, hidden: H } = this.config;
    const width = STORAGES[this.dtype].planes!(matrix === 'gateUp' ? H : I)[plane];
    return this.toOwners(layer, matrix === 'gateUp' ? 2 * I : H, firstRow, bytes, width,
      (api, at, piece) => api.plane(layer, matrix, plane, at, transfer(piece, [piece.buffer])));
  }

  /**
   * Hands rows firstRow… of a layer's [E][perExpert] rows (of `rowBytes` each) to the experts'
   * workers, each run of one expert's rows (copied) at its row among the worker's experts.
   */
  private toOwners(layer: number, perExpert: number, firstRow: number, bytes: Uint8Array, rowBytes: number,
    send: (api: Remote<ShardApi>, at: number, piece: Uint8Array<ArrayBuffer>) => Promise<void>): Promise<void>
  {
    const { owner, local } = this.maps.get(layer)!;
    const sends: Promise<void>[] = [];
    const n = bytes.length / rowBytes;
    for (let r = 0; r < n;) {
      const row = firstRow + r;
      const e = Math.floor(row / perExpert);
      const count = Math.min(n - r, (e + 1) * perExpert - row);
      const piece = bytes.slice(r * rowBytes, (r + count) * rowBytes);
      const at = local[e] * perExpert + (row - e * perExpert);
      sends.push(this.call(this.shards[owner[e]], `while loading layer ${layer}`, (api) => send(api, at, piece)));
      r += count;
    }
    return Promise.all(sends).then(() => {});
  }

  backend(layer: number): ExpertBackend {
    const c = this.config;
    return new ShardedExperts(this.device, layer, c.hidden, (l, x, ids, weights) => this.runLayer(l, x, ids, weights), (ms) => (this.stats_.readbackMs += ms));
  }

  stats(): ExpertParallelStats {
    return { ...this.stats_, rowsPerWorker: [...this.stats_.rowsPerWorker] };
  }

  resetStats(): void {
    this.stats_ = this.emptyStats();
  }

  /**
   * Ends the workers: each frees its device first (a worker_threads worker ended while a Dawn
   * readback is pending takes the process down), then it is terminated, at the latest after 2 s.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const s of this.shards) {
      const freed = s.api.dispose().catch(() => {});
      void Promise.race([freed, s.handle.died.catch(() => {}), new Promise((r) => setTimeout(r, 2000))]).then(() => s.handle.terminate());
    }
  }

  /** ys [T·k, H]: w[t, j] · expert_{ids[t, j]}(x[t]) of each slot, the experts on their workers. */
  private async runLayer(layer: number, x: Float32Array, ids: Uint32Array, weights: Float32Array): Promise<Float32Array<ArrayBuffer>> {
    if (this.disposed) throw new WorkerError('webmoe: the expert-parallel engine was disposed');
    const H = this.config.hidden;
    const E = this.config.numExperts;
    const S = ids.length;
    const T = x.length / H;
    const k = S / T;
    const { owner, local, lists } = this.maps.get(layer)!;
    const st = this.stats_;
    let t0 = performance.now();
    // Counting sort of the slots by (worker, expert): each worker's rows grouped by its experts. Empty
    // slots (NONE: top-p or capacity left them) go nowhere; their rows of ys stay 0 and unread.
    const count = new Uint32Array(E);
    for (let s = 0; s < S; s++) if (ids[s] !== NONE) count[ids[s]]++;
    const start = new Uint32Array(E);
    const rowsOf = lists.map((list) => {
      let n = 0;
      for (const e of list) {
        start[e] = n;
        n += count[e];
      }
      return n;
    });
    const batches = rowsOf.map((R) => ({ x: new Float32Array(R * H), ids: new Uint32Array(R), weights: new Float32Array(R) }));
    const where = new Uint32Array(S); // row of each slot in its worker's batch
    for (let s = 0; s < S; s++) {
      const e = ids[s];
      if (e === NONE) continue;
      const b = batches[owner[e]];
      const r = start[e]++;
      b.x.set(x.subarray(Math.floor(s / k) * H, (Math.floor(s / k) + 1) * H), r * H);
      b.ids[r] = local[e];
      b.weights[r] = weights[s];
      where[s] = r;
    }
    st.hostMs += performance.now() - t0;

    t0 = performance.now();
    const settled = await Promise.allSettled(batches.map((b, w) => {
      if (!b.ids.length) return undefined;
      st.bytesToWorkers += b.x.byteLength + b.ids.byteLength + b.weights.byteLength;
      st.rowsPerWorker[w] += b.ids.length;
      return this.call(this.shards[w], `in layer ${layer} (${describeShard(lists[w])})`,
        (api) => api.run(layer, transfer(b.x, [b.x.buffer]), transfer(b.ids, [b.ids.buffer]), transfer(b.weights, [b.weights.buffer])));
    }));
    // Fail only once every batch has ended: a worker left mid-batch (its readback pending) when the
    // caller then disposes the engine could take the Node process down (Dawn; see dispose()).
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const outs = settled.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
    const roundTrip = performance.now() - t0;
    const slowest = Math.max(0, ...outs.map((o) => o?.ms ?? 0));
    st.roundTripMs += roundTrip;
    st.expertMs += slowest;
    st.transferMs += roundTrip - slowest;
    st.layerCalls++;

    // Each slot's row from its worker's output, for the block's combine on the GPU.
    t0 = performance.now();
    const ys = new Float32Array(S * H);
    for (let s = 0; s < S; s++) if (ids[s] !== NONE) ys.set(outs[owner[ids[s]]]!.y.subarray(where[s] * H, (where[s] + 1) * H), s * H);
    for (const o of outs) if (o) st.bytesFromWorkers += o.y.byteLength;
    st.hostMs += performance.now() - t0;
    return ys;
  }

  /** A call on a shard; its failure or death becomes a WorkerError naming the worker and its experts. */
  private async call<R>(s: Shard, what: string, f: (api: Remote<ShardApi>) => Promise<R>): Promise<R> {
    const name = `shard worker ${s.index} (${s.kind})`;
    try {
      return await guard(s.handle, `${name} ${what}`, f(s.api));
    } catch (e) {
      if (e instanceof WorkerError) throw e;
      throw new WorkerError(`webmoe: ${name} failed ${what}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private emptyStats(): ExpertParallelStats {
    return {
      layerCalls: 0,
      readbackMs: 0,
      hostMs: 0,
      roundTripMs: 0,
      expertMs: 0,
      transferMs: 0,
      bytesToWorkers: 0,
      bytesFromWorkers: 0,
      rowsPerWorker: new Array<number>(this.shards.length).fill(0),
    };
  }
}
