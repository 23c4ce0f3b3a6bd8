// `webmoe bench --peers`: dense MatMul in peer WebGPU libraries on webmoe's own device, at the
// benchmark's GEMM shapes and on the same data, each output checked against the float64 reference
// before its time counts. The peers live in bench/peers/ (their own package.json and node_modules,
// never this package's dependencies) and are loaded by path at run time, so the build never sees them.
import { relativeError } from '../moe/reference.js';
import { benchShapes, type BenchRecord } from './cases.js';
import { medianWallMs, randomArray } from './timing.js';

interface PeerGemm {
  /** One product y = x·wᵀ, resolving when its GPU work is done (the timed call). */
  run(): Promise<void>;
  read(): Promise<Float32Array>;
  dispose(): void;
}

/** What a bench/peers/*.mjs module exports. */
export interface PeerModule {
  name: string;
  open(device: GPUDevice): Promise<PeerSession>;
}
interface PeerSession {
  version?: string;
  gemm(m: number, n: number, k: number, x: Float32Array, w: Float32Array): PeerGemm | Promise<PeerGemm>;
  /** Another of the peer's own kernels, for when its default one's output fails the check; says which. */
  fallback?(): string;
  /** Back to the peer's default kernel choice. */
  reset?(): void;
  close(): void;
}

/** The peer modules, in the order they run; each is a file in bench/peers/. */
export const PEER_FILES = ['tfjs.mjs', 'ort.mjs'] as const;
export const PEERS_INSTALL = 'npm install --ignore-scripts --prefix bench/peers';
/** A peer's output is accepted within this relative L2 error of the float64 reference (f32). */
export const PEER_TOLERANCE = 1e-3;

/** Loads the peer modules from `dir` (a file: URL of bench/peers/), or fails saying how to install them. */
export async function loadPeers(dir: URL): Promise<PeerModule[]> {
  const peers: PeerModule[] = [];
  for (const file of PEER_FILES) {
    const url = new URL(file, dir).href;
    try {
      peers.push(await import(/* @vite-ignore */ url) as PeerModule);
    } catch (e) {
      throw new Error(`--peers: cannot load ${url} (${(e as Error).message}). The peers are installed apart from ` +
        `the package, from a checkout of the repository: ${PEERS_INSTALL}`);
    }
  }
  return peers;
}

/** The peers' dense GEMMs at the benchmark's shapes (the quick ones with `quick`), as bench records. */
export async function runPeerGemms(
  device: GPUDevice, peers: PeerModule[], o: { quick?: boolean; runs?: number; onRecord?: (r: BenchRecord) => void } = {},
): Promise<BenchRecord[]> {
  const runs = o.runs ?? 5;
  const records: BenchRecord[] = [];
  for (const peer of peers) {
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
  session: PeerSession, name: string, m: number, n: number, k: number, x: Float32Array, w: Float32Array, runs: number,
): Promise<BenchRecord> {
  const g = await session.gemm(m, n, k, x, w);
  try {
    const ms = await medianWallMs(() => g.run(), runs);
    return {
      name: `peer:${name} gemm`, shape: `${m}x${n}x${k}`, ms, gflops: (2 * m * n * k) / ms / 1e6,
      gbps: 4 * (n * k + m * k + m * n) / ms / 1e6, error: gemmRowsError(await g.read(), x, w, m, n, k),
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
