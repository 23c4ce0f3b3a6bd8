// What a shard worker does (the object it exposes with Comlink): it holds the routed experts of
// each MoE layer that the placement gives it — on its own GPU device, or in host memory for the CPU
// path — takes their rows (and biases) as the coordinator streams the checkpoint, and runs batches of
// rows with the layer's activation.
import { transfer } from 'comlink';
import type { RawRows } from '../../io/checkpoint.js';
import type { Activation } from '../../kernels/expertMatmul.js';
import { storedRows } from '../../weights/convert.js';
import { STORAGES, type WeightStorage } from '../../weights/format.js';
import { createExpertMatrix, destroyExpertMatrix, type ExpertMatrix, writeExpertPlane, writeExpertRows } from '../../weights/matrix.js';
import { FusedExperts } from '../fused.js';
import { cpuExpertRows, type HostExperts } from './cpuExperts.js';
import { GpuExperts } from './gpuExperts.js';
import type { WorkerKind } from './placement.js';

export interface ShardInit {
  kind: WorkerKind;
  hidden: number;
  intermediate: number;
  /** the experts' storage: a dtype, or the checkpoint's MXFP4 (kept so on a GPU, decoded on the CPU) */
  dtype: WeightStorage;
  /** the experts' gated activation (default SwiGLU) */
  activation?: Activation;
  /** per MoE layer: how many experts this worker holds (local indices 0…n-1) */
  layers: [layer: number, experts: number][];
}

/** One batch's output, and the time the worker spent computing it. */
export interface ShardResult {
  y: Float32Array;
  ms: number;
}

export interface ShardApi {
  init(o: ShardInit): Promise<void>;
  /** Rows of a layer's local stacked gate/up [n, 2I, H] or down [n, H, I] matrix, from row `firstRow`, as the checkpoint stores them. */
  rows(layer: number, matrix: 'gateUp' | 'down', firstRow: number, rows: RawRows): void;
  /** One plane of stored rows (MXFP4: 0 the codes, 1 the scales), counted as rows() counts them. */
  plane(layer: number, matrix: 'gateUp' | 'down', plane: number, firstRow: number, bytes: Uint8Array): void;
  /** Bias rows of local experts from `firstExpert` on: gate/up [n, 2I] (gate, then up) or down [n, H]. */
  bias(layer: number, matrix: 'gateUp' | 'down', firstExpert: number, values: Float32Array): void;
  /** y [R, H] = weights · expert(x) per row; ids: local experts, grouped ascending. */
  run(layer: number, x: Float32Array<ArrayBuffer>, ids: Uint32Array<ArrayBuffer>, weights: Float32Array<ArrayBuffer>): Promise<ShardResult>;
  dispose(): void;
}

interface ShardLayer {
  gateUp: ExpertMatrix;
  down: ExpertMatrix;
}

type Biases = Pick<HostExperts, 'gateUpBias' | 'downBias'>;

/** The shard object of a worker; `device` makes its GPU device (only called for GPU shards). */
export function shardApi(device: () => Promise<GPUDevice>): ShardApi {
  let o: ShardInit | undefined;
  let gpu: { device: GPUDevice; layers: Map<number, ShardLayer>; experts?: GpuExperts } | undefined;
  const host = new Map<number, HostExperts>();
  // A CPU shard's rows of a storage in planes, as the format packs them ([codes][scales] a row), until
  // its first run decodes them.
  const packed = new Map<number, Record<'gateUp' | 'down', Uint8Array>>();
  // Per layer, kept on the host (a GPU shard uploads them when its first run makes its backends).
  const biases = new Map<number, Biases>();
  const need = () => {
    if (!o) throw new Error('webmoe: shard used before init()');
    return o;
  };
  /** A CPU shard's packed rows of `layer` into its f32 matrices, by the format's own unpack. */
  const unpackLayer = (layer: number) => {
    const p = packed.get(layer);
    if (!p) return;
    const { hidden: H, intermediate: I, dtype } = need();
    const w = host.get(layer)!;
    w.gateUp.set(STORAGES[dtype].unpack(p.gateUp, H));
    w.down.set(STORAGES[dtype].unpack(p.down, I));
    packed.delete(layer);
  };
  return {
    async init(init) {
      o = init;
      const { hidden: H, intermediate: I, dtype } = init;
      if (init.kind === 'gpu') {
        const d = await device();
        const layers = new Map(init.layers.map(([l, n]) => [l, {
          gateUp: createExpertMatrix(d, { experts: n, parts: 2, outputs: I, inner: H }, dtype, `layer ${l} shard gate/up`),
          down: createExpertMatrix(d, { experts: n, parts: 1, outputs: H, inner: I }, dtype, `layer ${l} shard down`),
        }]));
        gpu = { device: d, layers };
      } else {
        for (const [l, n] of init.layers) host.set(l, { gateUp: new Float32Array(n * 2 * I * H), down: new Float32Array(n * H * I) });
        const format = STORAGES[dtype];
        if (format.planes) {
          for (const [l, n] of init.layers) {
            packed.set(l, { gateUp: new Uint8Array(n * 2 * I * format.rowBytes(H)), down: new Uint8Array(n * H * format.rowBytes(I)) });
          }
        }
      }
    },
    rows(layer, matrix, firstRow, rows) {
      const { hidden: H, intermediate: I, dtype } = need();
      const inner = matrix === 'gateUp' ? H : I;
      const stored = storedRows(STORAGES[dtype], rows, inner, `layer ${layer} ${matrix}`);
      if (gpu) writeExpertRows(gpu.device, gpu.layers.get(layer)![matrix], firstRow, stored);
      // The CPU keeps the stored values (f16-rounded, or quantized and back) as f32, so both kinds give
      // the same results: quantization saves no host memory here.
      else host.get(layer)![matrix].set(STORAGES[dtype].unpack(stored, inner), firstRow * inner);
    },
    plane(layer, matrix, plane, firstRow, bytes) {
      const { hidden: H, intermediate: I, dtype } = need();
      if (gpu) return writeExpertPlane(gpu.device, gpu.layers.get(layer)![matrix], plane, firstRow, bytes);
      const planes = STORAGES[dtype].planes!(matrix === 'gateUp' ? H : I);
      const [width, before, rowBytes] = [planes[plane], planes.slice(0, plane).reduce((a, b) => a + b, 0), planes.reduce((a, b) => a + b, 0)];
      const out = packed.get(layer)![matrix];
      for (let r = 0; r < bytes.length / width; r++) out.set(bytes.subarray(r * width, (r + 1) * width), (firstRow + r) * rowBytes + before);
    },
    bias(layer, matrix, firstExpert, values) {
      const o = need();
      const width = matrix === 'gateUp' ? 2 * o.intermediate : o.hidden;
      const experts = o.layers.find(([l]) => l === layer)![1];
      const b = biases.get(layer) ?? biases.set(layer, {}).get(layer)!;
      (b[matrix === 'gateUp' ? 'gateUpBias' : 'downBias'] ??= new Float32Array(experts * width)).set(values, firstExpert * width);
    },
    async run(layer, x, ids, weights) {
      const { hidden: H, intermediate: I, activation } = need();
      const t0 = performance.now();
      let y: Float32Array<ArrayBuffer>;
      if (gpu) {
        gpu.experts ??= gpuExperts(gpu.device, gpu.layers, biases, need());
        y = await gpu.experts.run(layer, x, ids, weights);
      } else {
        unpackLayer(layer);
        y = cpuExpertRows(x, ids, weights, { ...host.get(layer)!, ...biases.get(layer) }, H, I, activation);
      }
      return transfer({ y, ms: performance.now() - t0 }, [y.buffer]);
    },
    dispose() {
      if (gpu) {
        if (gpu.experts) gpu.experts.destroy();
        else for (const m of gpu.layers.values()) [m.gateUp, m.down].forEach(destroyExpertMatrix);
        gpu.device.destroy();
        gpu = undefined;
      }
      host.clear();
      packed.clear();
      biases.clear();
    },
  };
}

/** Each layer's local experts as a fused backend with k = 1, its biases uploaded (it owns the matrices from here on). */
function gpuExperts(d: GPUDevice, layers: Map<number, ShardLayer>, biases: Map<number, Biases>, o: ShardInit): GpuExperts {
  const { hidden, intermediate, dtype, activation } = o;
  const fused = new Map(
    [...layers].map((
      [l, m],
    ) => [l,
      new FusedExperts(d, { experts: m.gateUp.experts, topK: 1, hidden, intermediate, activation }, dtype, { ...m, ...biases.get(l) }, `layer ${l} shard`)]
    ),
  );
  return new GpuExperts(d, fused, hidden);
}
