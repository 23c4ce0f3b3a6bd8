// The benchmark cases, shared by `webmoe bench` (Node) and the benchmark page: a copy kernel (the
// bandwidth ceiling), dense GEMMs, the MoE block at several token counts, and the same block computed
// densely: one FFN of intermediate E·I over the same parameters, the cost of running every expert.
import { copyKernel } from '../kernels/copy.js';
import { linear } from '../model/linear.js';
import { tuneGemm, tuneGemv } from '../moe/tune.js';
import { readBuffers, Workspace } from '../gpu/workspace.js';
import { checkTokens, referenceQuantize, relativeError } from '../moe/reference.js';
import { MoELayer } from '../moe/layer.js';
import type { MoEConfig, MoEWeights } from '../moe/spec.js';
import { destroyExpertMatrix, rowBytes, swigluExpertBytes, uploadExpertMatrix } from '../weights/matrix.js';
import { moePeerRatios } from './qmoe.js';
import { medianMs, randomArray } from '../gpu/timing.js';
import { isQuant, type WeightDType } from '../weights/format.js';
import type { HostWeights } from '../weights/convert.js';

export interface BenchRecord {
  name: string;
  shape: string;
  ms: number;
  gflops: number | null;
  gbps: number | null;
  /** Relative L2 error of (part of) the output against the float64 reference, checked before the time counts. */
  error: number;
  /** How the row was made, where it departs from the default (e.g. a peer's fallback kernel). */
  note?: string;
}

export interface BenchOptions {
  /** Timed runs per case (median reported), after one warm-up. Default 5. */
  runs?: number;
  /** Smaller shapes, for software adapters and CI smoke runs. */
  quick?: boolean;
  dtype?: WeightDType;
  /** Called as each record is measured. */
  onRecord?: (r: BenchRecord) => void;
}

export interface BenchShapes {
  copyBytes: number;
  gemms: [m: number, n: number, k: number][];
  moe: { hidden: number; intermediate: number; experts: number; topK: number; tokens: number[] };
}

export function benchShapes(quick: boolean): BenchShapes {
  return quick
    ? { copyBytes: 16 << 20, gemms: [[256, 256, 256], [64, 512, 256], [1, 512, 2048]],
      moe: { hidden: 512, intermediate: 192, experts: 32, topK: 4, tokens: [1, 64] } }
    : { copyBytes: 64 << 20, gemms: [[1024, 1024, 1024], [64, 2048, 1024], [1, 2048, 8192]],
      moe: { hidden: 2048, intermediate: 768, experts: 32, topK: 4, tokens: [1, 64, 512] } };
}

/** The copy kernel over `bytes`: its GB/s counts the bytes read and written (the bandwidth ceiling). */
export async function copyRecord(device: GPUDevice, bytes: number, runs: number): Promise<BenchRecord> {
  const ws = new Workspace(device);
  const data = randomArray(bytes / 4, 1);
  const dst = ws.buffer(bytes, 'copy dst');
  const copy = copyKernel(ws, ws.upload(data, 'copy src'), dst, bytes);
  const ms = await medianMs(device, (enc) => pass(enc, [copy]), runs);
  const [copied] = await readBuffers(device, [dst]);
  ws.destroy();
  return { name: 'copy', shape: `${bytes >> 20} MiB`, ms, gflops: null, gbps: (2 * bytes) / ms / 1e6, error: relativeError(new Float32Array(copied), data) };
}

export async function runBenchmarks(device: GPUDevice, o: BenchOptions = {}): Promise<BenchRecord[]> {
  const runs = o.runs ?? 5;
  const dtype = o.dtype ?? 'f32';
  const shapes = benchShapes(o.quick ?? false);
  const records: BenchRecord[] = [];
  // A wrong answer is no benchmark result. Looser than the tests' bounds: this guards, they measure.
  // q8/q4 are checked against the reference on their dequantized weights (f16 on the f32 ones).
  const tolerance = dtype === 'f16' ? 3e-3 : 1e-4;
  const stored = (w: Float32Array, inner: number) => (isQuant(dtype) ? referenceQuantize(w, inner, dtype) : w);
  const record = (r: BenchRecord) => {
    if (!(r.error <= tolerance)) {
      throw new Error(`benchmark ${r.name} ${r.shape}: output differs from the float64 reference (relative error ${r.error})`);
    }
    records.push(r);
    o.onRecord?.(r);
  };

  record(await copyRecord(device, shapes.copyBytes, runs));

  // Dense GEMM y[M,N] = x[M,K]·W[N,K]ᵀ as the model's projections run it: the expert kernels with one
  // expert and every row on it.
  for (const [m, n, k] of shapes.gemms) {
    const ws = new Workspace(device);
    const wHost = randomArray(n * k, 2, 0.05);
    const xHost = randomArray(m * k, 3);
    const w = uploadExpertMatrix(device, wHost, { experts: 1, parts: 1, outputs: n, inner: k }, dtype, 'gemm w');
    const y = ws.buffer(m * n * 4, 'gemm y');
    await (m === 1 ? tuneGemv(device, w, 1) : tuneGemm(device, dtype, k));
    const dispatches = linear(ws, w, ws.upload(xHost, 'gemm x'), y, m);
    const ms = await medianMs(device, (enc) => pass(enc, dispatches), runs);
    const bytes = n * rowBytes(k, dtype) + 4 * (m * k + m * n);
    const [out] = await readBuffers(device, [y]);
    const wRef = stored(wHost, k);
    const firstRow = Float64Array.from({ length: n }, (_, j) => {
      let acc = 0;
      for (let i = 0; i < k; i++) acc += xHost[i] * wRef[j * k + i];
      return acc;
    });
    record({
      name: m === 1 ? 'gemv' : 'gemm',
      shape: `${m}x${n}x${k}`,
      ms,
      gflops: (2 * m * n * k) / ms / 1e6,
      gbps: bytes / ms / 1e6,
      error: relativeError(new Float32Array(out, 0, n), firstRow),
    });
    destroyExpertMatrix(w);
    ws.destroy();
  }

  // The MoE block, sparse (top-k of E) and dense (all E·I columns in one expert), on the same weights.
  const { hidden: H, intermediate: I, experts: E, topK: k } = shapes.moe;
  const gateUp = randomArray(E * 2 * I * H, 4, 1 / Math.sqrt(H));
  const down = randomArray(E * H * I, 5, 1 / Math.sqrt(I));
  const blocks: [string, MoEConfig, MoEWeights<HostWeights>][] = [
    ['moe', { hidden: H, intermediate: I, numExperts: E, topK: k, normTopK: true, dtype }, { router: randomArray(E * H, 6, 1 / Math.sqrt(H)), gateUp, down }],
    ['moe-dense', { hidden: H, intermediate: E * I, numExperts: 1, topK: 1, dtype }, { router: new Float32Array(H), gateUp, down }],
  ];
  for (const [name, config, weights] of blocks) {
    const layer = MoELayer.create(device, config, weights);
    await layer.tune();
    const refWeights = { ...weights, gateUp: stored(gateUp, H), down: stored(down, config.intermediate) };
    for (const T of shapes.moe.tokens) {
      const ws = new Workspace(device);
      const xHost = randomArray(T * H, 7 + T);
      const x = ws.upload(xHost, 'x');
      const y = ws.buffer(T * H * 4, 'y');
      const ms = await medianMs(device, (enc) => layer.encode(enc, x, y, T), runs);
      // The first two tokens against the reference, on the GPU's routing (it accepts only rounding ties).
      const [yb, ib] = await readBuffers(device, [y, layer.routing().ids]);
      const { error } = checkTokens({ ...config, ...refWeights }, xHost, Math.min(T, 2), new Float32Array(yb), new Uint32Array(ib));
      const flops = T * config.topK * 6 * H * config.intermediate;
      const oneExpert = swigluExpertBytes(H, config.intermediate, dtype);
      const touched = Math.min(config.numExperts, T * config.topK); // experts whose weights are read at most
      record({
        name,
        shape: `T=${T} H=${H} I=${I} E=${E} k=${name === 'moe' ? k : E}`,
        ms,
        gflops: flops / ms / 1e6,
        gbps: (touched * oneExpert) / ms / 1e6,
        error,
      });
      ws.destroy();
    }
    layer.destroy();
  }
  return records;
}

function pass(enc: GPUCommandEncoder, dispatches: ((p: GPUComputePassEncoder) => void)[]): void {
  const p = enc.beginComputePass();
  for (const d of dispatches) d(p);
  p.end();
}

/**
 * Ratios within one run: the sparse block against the same block dense, its compute rate against
 * the dense GEMM's, and its time against the weight-bandwidth floor (bytes of the experts it reads
 * at the copy kernel's bandwidth; 1 is the floor, the decode figure that matters), and, where
 * `--peers` ran, webmoe's dense GEMM time over the best peer's at each shape.
 */
export function benchRatios(records: BenchRecord[]): Record<string, number> {
  const out: Record<string, number> = {};
  const copy = records.find((r) => r.name === 'copy')!;
  const gemm = records.find((r) => r.name === 'gemm')!;
  for (const r of records.filter((r) => r.name === 'moe')) {
    const T = r.shape.split(' ')[0];
    const dense = records.find((d) => d.name === 'moe-dense' && d.shape.startsWith(`${T} `));
    if (dense) out[`moe ${T}: dense time / sparse time`] = dense.ms / r.ms;
    out[`moe ${T}: GFLOP/s / dense GEMM ${gemm.shape} GFLOP/s`] = r.gflops! / gemm.gflops!;
    out[`moe ${T}: time / weight-bandwidth floor`] = copy.gbps! / r.gbps!;
  }
  return { ...out, ...peerRatios(records) };
}

/**
 * Per GEMM shape where peers ran: webmoe's time over the best peer's (below 1: webmoe is faster).
 * webmoe's rows are `gemm` and `gemv` (M = 1); peers' are `peer:<name> gemm`.
 */
export function peerRatios(records: BenchRecord[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const own of records.filter((r) => r.name === 'gemm' || r.name === 'gemv')) {
    const peers = records.filter((r) => r.name.startsWith('peer:') && r.shape === own.shape);
    if (peers.length === 0) continue;
    const best = peers.reduce((a, b) => (b.ms < a.ms ? b : a));
    out[`${own.name} ${own.shape}: webmoe time / best peer time (${best.name.slice(5).replace(/ gemm$/, '')})`] = own.ms / best.ms;
  }
  return { ...out, ...moePeerRatios(records) };
}
