// `webmoe bench --peers`: dense MatMul in peer WebGPU libraries on webmoe's own device, at the
// benchmark's GEMM shapes and on the same data, and the MoE block in onnxruntime's com.microsoft.QMoE
// op (onnxruntime-web's WebGPU EP on webmoe's device; onnxruntime-node's CPU EP and its own WebGPU EP)
// at the benchmark's MoE shape, each output checked against the float64 reference before its time
// counts. The peers live in bench/peers/ (their own package.json and node_modules, never this
// package's dependencies) and are loaded by path at run time, so the build never sees them.
import { relativeError } from '../moe/reference.js';
import { benchShapes, type BenchRecord } from './cases.js';
import { packQMoE, qmoeAttributes, qmoeExpertBytes, qmoeReference, type QMoEShape, type QMoEWeights, routerLogits } from './qmoe.js';
import { medianWallMs, randomArray } from '../gpu/timing.js';
import type { WeightDType } from '../weights/format.js';

export { moePeerRatios } from './qmoe.js';

interface PeerGemm {
  /** One product y = x·wᵀ (or one MoE block), resolving when its work is done (the timed call). */
  run(): Promise<void>;
  read(): Promise<Float32Array>;
  dispose(): void;
  /** How the row was made (threads, device), for the record's note. */
  note?: string;
  /**
   * QMoE peers that may quantize their activations to int8 in blocks of this size along K (ORT's
   * WebGPU DP4A path, qmoe.ts int8Activations): the output is checked against the reference that does
   * the same, or failing that the plain one, and the note says which it matched.
   */
  int8Activations?: number;
}

/** What a peer times: dense MatMul (runPeerGemms), the MoE block as com.microsoft.QMoE (runPeerMoE). */
export type PeerOp = 'gemm' | 'qmoe';

/** What a bench/peers/*.mjs module exports. */
export interface PeerModule {
  name: string;
  /** What it offers; ['gemm'] when absent. */
  ops?: readonly PeerOp[];
  open(device: GPUDevice): Promise<PeerSession>;
}
interface PeerSession {
  version?: string;
  gemm?(m: number, n: number, k: number, x: Float32Array, w: Float32Array): PeerGemm | Promise<PeerGemm>;
  /**
   * One QMoE node on packed weights (src/bench/qmoe.ts's layout), its inputs the hidden states
   * x [T,H] and the router logits [T,E]; `attrs` the node's attributes ({ float } for FLOAT ones).
   */
  qmoe?(s: QMoEShape, w: QMoEWeights, x: Float32Array, logits: Float32Array, attrs: ReturnType<typeof qmoeAttributes>): PeerGemm | Promise<PeerGemm>;
  /** Another of the peer's own kernels, for when its default one's output fails the check; says which. */
  fallback?(): string;
  /** Back to the peer's default kernel choice. */
  reset?(): void;
  close(): void;
}

/** The peer modules, in the order they run; each is a file in bench/peers/. */
export const PEER_FILES = ['tfjs.mjs', 'ort.mjs', 'ort-node-cpu.mjs', 'ort-node-webgpu.mjs'] as const;
export const PEERS_INSTALL = 'npm install --ignore-scripts --prefix bench/peers';
/** A peer's output is accepted within this relative L2 error of the float64 reference (f32). */
export const PEER_TOLERANCE = 1e-3;
/** The MoE block's token counts the QMoE peers run (of benchShapes' moe.tokens): decode and a small prefill. */
export const PEER_MOE_TOKENS = [1, 64] as const;

const offers = (p: PeerModule, op: PeerOp) => (p.ops ?? ['gemm']).includes(op);

/** Loads the peer modules from `dir` (a file: URL of bench/peers/), or fails saying how to install them. */
export async function loadPeers(dir: URL): Promise<PeerModule[]> {
  const load = async <T>(file: string): Promise<T> => {
    const url = new URL(file, dir).href;
    try {
      return await import(/* @vite-ignore */ url) as T;
    } catch (e) {
      throw new Error(`--peers: cannot load ${url} (${(e as Error).message}). The peers are installed apart from ` +
        `the package, from a checkout of the repository: ${PEERS_INSTALL}`);
    }
  };
  // Node has no navigator.gpu, which tfjs looks for: Dawn's (dawn.mjs), before any peer loads.
  await (await load<{ ensureNavigatorGpu(): Promise<void> }>('dawn.mjs')).ensureNavigatorGpu();
  const peers: PeerModule[] = [];
  for (const file of PEER_FILES) peers.push(await load<PeerModule>(file));
  return peers;
}

/** The peers' dense GEMMs at the benchmark's shapes (the quick ones with `quick`), as bench records. */
export async function runPeerGemms(
  device: GPUDevice,
  peers: PeerModule[],
  o: { quick?: boolean; runs?: number; onRecord?: (r: BenchRecord) => void } = {},
): Promise<BenchRecord[]> {
  const runs = o.runs ?? 5;
  const records: BenchRecord[] = [];
  for (const peer of peers.filter((p) => offers(p, 'gemm'))) {
    const session = await peer.open(device);
    try {
      for (const [m, n, k] of benchShapes(o.quick ?? false).gemms) {
        // The same data as webmoe's own GEMM case (runBenchmarks: seeds 2 and 3).
        const w = randomArray(n * k, 2, 0.05);
        const x = randomArray(m * k, 3);
        const shape = `${m}x${n}x${k}`;
        let r = await timePeerGemm(session, peer.name, m, n, k, x, w, runs);
        if (!(r.error <= PEER_TOLERANCE) && session.fallback) {
          const note = session.fallback();
          console.warn(`peer ${peer.name} gemm ${shape}: output differs from the float64 reference ` +
            `(relative error ${r.error.toExponential(2)}), not counted; timing ${note}`);
          r = { ...await timePeerGemm(session, peer.name, m, n, k, x, w, runs), note };
          session.reset?.();
        }
        if (!(r.error <= PEER_TOLERANCE)) {
          throw new Error(`peer ${peer.name} gemm ${shape}: output differs from the float64 reference (relative error ${r.error})`);
        }
        records.push(r);
        o.onRecord?.(r);
      }
    } finally {
      session.close();
    }
  }
  return records;
}

async function timePeerGemm(
  session: PeerSession,
  name: string,
  m: number,
  n: number,
  k: number,
  x: Float32Array,
  w: Float32Array,
  runs: number,
): Promise<BenchRecord> {
  const g = await session.gemm!(m, n, k, x, w);
  try {
    const ms = await medianWallMs(() => g.run(), runs);
    return {
      name: `peer:${name} gemm`,
      shape: `${m}x${n}x${k}`,
      ms,
      gflops: (2 * m * n * k) / ms / 1e6,
      gbps: 4 * (n * k + m * k + m * n) / ms / 1e6,
      error: gemmRowsError(await g.read(), x, w, m, n, k),
    };
  } finally {
    g.dispose();
  }
}

/** Relative L2 error of the first and last rows of y = x·wᵀ against the float64 reference. */
export function gemmRowsError(y: Float32Array, x: Float32Array, w: Float32Array, m: number, n: number, k: number): number {
  const rows = m === 1 ? [0] : [0, m - 1];
  const got = new Float32Array(rows.length * n);
  const want = new Float64Array(rows.length * n);
  rows.forEach((row, r) => {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let i = 0; i < k; i++) acc += x[row * k + i] * w[j * k + i];
      want[r * n + j] = acc;
      got[r * n + j] = y[row * n + j];
    }
  });
  return relativeError(got, want);
}

/**
 * The peers' MoE block (com.microsoft.QMoE) at the benchmark's MoE shape (the quick one with `quick`)
 * for PEER_MOE_TOKENS, on the same data as webmoe's `moe` case (runBenchmarks: seeds 4, 5, 6, 7 + T),
 * quantized as webmoe's q4 (q8 with dtype 'q8': QMoE has no float weights, so f32/f16 runs compare
 * with its int4) and repacked bit for bit into QMoE's layout. The router logits x·Wrᵀ are computed
 * here and fed as the op's router_probs input (outside the timed call; tiny). Each row's first two
 * tokens are checked against the float64 reference on the same dequantized weights before its time
 * counts; an output that is off is tried once more in a fresh session, and the row says so. A peer that
 * cannot start here (e.g. no adapter for its own WebGPU device) is skipped with a warning.
 */
export async function runPeerMoE(
  device: GPUDevice,
  peers: PeerModule[],
  o: { quick?: boolean; runs?: number; dtype?: WeightDType; tokens?: readonly number[]; onRecord?: (r: BenchRecord) => void } = {},
): Promise<BenchRecord[]> {
  const runs = o.runs ?? 5;
  const qpeers = peers.filter((p) => offers(p, 'qmoe'));
  if (qpeers.length === 0) return [];
  const { hidden: H, intermediate: I, experts: E, topK: k } = benchShapes(o.quick ?? false).moe;
  const quant = o.dtype === 'q8' ? 'q8' : 'q4';
  const w = packQMoE(randomArray(E * 2 * I * H, 4, 1 / Math.sqrt(H)), randomArray(E * H * I, 5, 1 / Math.sqrt(I)), H, I, E, quant);
  const router = randomArray(E * H, 6, 1 / Math.sqrt(H));
  const attrs = qmoeAttributes(k, w.bits, w.block);
  const records: BenchRecord[] = [];
  for (const peer of qpeers) {
    let session: PeerSession;
    try {
      session = await peer.open(device);
    } catch (e) {
      console.warn(`peer ${peer.name} qmoe: skipped, it cannot start here (${(e as Error).message})`);
      continue;
    }
    try {
      for (const T of o.tokens ?? PEER_MOE_TOKENS) {
        const s: QMoEShape = { tokens: T, hidden: H, intermediate: I, experts: E, topK: k };
        const x = randomArray(T * H, 7 + T);
        const logits = routerLogits(x, router, T, H, E);
        const time = () => timeQMoE(session, peer.name, s, w, x, logits, router, attrs, runs);
        let r = await time();
        if (!(r.error <= PEER_TOLERANCE)) {
          // onnxruntime-web's QMoE on SwiftShader is off now and then at T = 64 (docs/benchmarks.md): a
          // second try, in a fresh session (qmoe() makes one), counts only if its own output matches.
          const first = r.error.toExponential(2);
          console.warn(`peer ${peer.name} qmoe ${r.shape}: output differs from the float64 reference (relative error ${first}), ` +
            'not counted; trying once more in a fresh session');
          r = await time();
          r.note = `${r.note}; timed on a second try, the first one's output was off (relative error ${first})`;
        }
        if (!(r.error <= PEER_TOLERANCE)) {
          throw new Error(`peer ${peer.name} qmoe ${r.shape}: output differs from the float64 reference (relative error ${r.error})`);
        }
        records.push(r);
        o.onRecord?.(r);
      }
    } finally {
      session.close();
    }
  }
  return records;
}

/** One QMoE node of `session` at shape `s`, timed, its first two tokens checked against the float64 reference. */
async function timeQMoE(
  session: PeerSession,
  name: string,
  s: QMoEShape,
  w: QMoEWeights,
  x: Float32Array,
  logits: Float32Array,
  router: Float32Array,
  attrs: ReturnType<typeof qmoeAttributes>,
  runs: number,
): Promise<BenchRecord> {
  const { tokens: T, hidden: H, intermediate: I, experts: E, topK: k } = s;
  const g = await session.qmoe!(s, w, x, logits, attrs);
  try {
    const ms = await medianWallMs(() => g.run(), runs);
    const checked = Math.min(T, 2);
    const y = (await g.read()).subarray(0, checked * H);
    let error = relativeError(y, qmoeReference(s, w, x, router, checked));
    let act = 'f32 activations';
    if (g.int8Activations && !(error <= PEER_TOLERANCE)) {
      // ORT's int8-activation path: the reference quantizes the activations the same way.
      error = relativeError(y, qmoeReference(s, w, x, router, checked, { int8Block: g.int8Activations }));
      act = `activations int8 per ${g.int8Activations} along K where K % 128 = 0 (ORT's DP4A MatMulNBits; the reference likewise)`;
    }
    return {
      name: `peer:${name} qmoe`,
      shape: `T=${T} H=${H} I=${I} E=${E} k=${k}`,
      ms,
      gflops: (T * k * 6 * H * I) / ms / 1e6,
      gbps: (Math.min(E, T * k) * qmoeExpertBytes(H, I, w.bits, w.block)) / ms / 1e6,
      error,
      note: [`${w.bits}-bit QMoE, block ${w.block}, ${act}`, g.note].filter(Boolean).join('; '),
    };
  } finally {
    g.dispose();
  }
}
