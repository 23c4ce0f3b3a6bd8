// The pure parts of `webmoe bench --peers`: ratio rows, the reference check, and the message when the
// peers are not installed (no network, no peers, no GPU).
import { describe, expect, it } from 'vitest';
import { benchRatios, type BenchRecord, benchShapes, peerRatios } from '../../src/bench/cases.js';
import {
  gemmRowsError,
  loadPeers,
  moePeerRatios,
  PEER_FILES,
  type PeerModule,
  type PeerOp,
  PEERS_INSTALL,
  runPeerGemms,
  runPeerMoE,
} from '../../src/bench/peers.js';
import { qmoeReference } from '../../src/bench/qmoe.js';
import { randomArray } from '../../src/gpu/timing.js';

const rec = (name: string, shape: string, ms: number): BenchRecord => ({ name, shape, ms, gflops: 1, gbps: 1, error: 0 });

describe('bench peers', () => {
  it('gives webmoe time / best peer time per shape where peers ran', () => {
    const records = [
      rec('gemm', '256x256x256', 20),
      rec('gemm', '64x512x256', 10),
      rec('gemv', '1x512x2048', 2),
      rec('peer:tfjs-webgpu gemm', '256x256x256', 40),
      rec('peer:ort-webgpu gemm', '256x256x256', 10),
      rec('peer:tfjs-webgpu gemm', '1x512x2048', 8),
    ];
    expect(peerRatios(records)).toEqual({
      'gemm 256x256x256: webmoe time / best peer time (ort-webgpu)': 2,
      'gemv 1x512x2048: webmoe time / best peer time (tfjs-webgpu)': 0.25,
    });
    expect(peerRatios(records.slice(0, 3))).toEqual({});
  });

  it('adds the peer rows to the report ratios without disturbing the MoE ones', () => {
    const records = [rec('copy', '16 MiB', 1), rec('gemm', '8x8x8', 4), rec('moe', 'T=1 H=8', 2), rec('peer:tfjs-webgpu gemm', '8x8x8', 2)];
    const ratios = benchRatios(records);
    expect(ratios['gemm 8x8x8: webmoe time / best peer time (tfjs-webgpu)']).toBe(2);
    expect(Object.keys(ratios).filter((k) => k.startsWith('moe T=1'))).toHaveLength(2);
  });

  it('checks the first and last rows against the float64 reference', () => {
    const [m, n, k] = [3, 2, 4];
    const x = Float32Array.from({ length: m * k }, (_, i) => i - 5);
    const w = Float32Array.from({ length: n * k }, (_, i) => (i % 3) - 1);
    const y = new Float32Array(m * n);
    for (let r = 0; r < m; r++) for (let j = 0; j < n; j++) for (let i = 0; i < k; i++) y[r * n + j] += x[r * k + i] * w[j * k + i];
    expect(gemmRowsError(y, x, w, m, n, k)).toBe(0);
    y[(m - 1) * n] += 1;
    expect(gemmRowsError(y, x, w, m, n, k)).toBeGreaterThan(1e-3);
  });

  it('fails with the install command when the peers are not installed', async () => {
    await expect(loadPeers(new URL('file:///nonexistent-webmoe-peers/'))).rejects.toThrow(PEERS_INSTALL);
  });
});

describe('bench peers: the MoE block (QMoE)', () => {
  it('gives webmoe time / best peer time and each peer\'s time / webmoe time per moe shape', () => {
    const s1 = 'T=1 H=512 I=192 E=32 k=4';
    const s64 = 'T=64 H=512 I=192 E=32 k=4';
    const records = [
      rec('moe', s1, 2),
      rec('moe', s64, 8),
      rec('moe-dense', s1, 20),
      rec('peer:ort-webgpu qmoe', s1, 4),
      rec('peer:ort-node-cpu qmoe', s1, 1),
      rec('peer:ort-webgpu gemm', '256x256x256', 10),
    ];
    expect(moePeerRatios(records)).toEqual({
      'moe T=1: webmoe time / best peer time (ort-node-cpu)': 2,
      'moe T=1: ort-webgpu qmoe time / webmoe time': 2,
      'moe T=1: ort-node-cpu qmoe time / webmoe time': 0.5,
    });
    expect(moePeerRatios(records.slice(0, 3))).toEqual({});
    // The dense-GEMM ratios ignore the QMoE rows (whether or not peerRatios also carries moePeerRatios').
    expect(Object.keys(peerRatios(records)).filter((key) => !key.startsWith('moe '))).toEqual([]);
  });

  it('runs only the peers that offer an op, and none when none offers QMoE', async () => {
    const opened: string[] = [];
    const peer = (name: string, ops?: PeerOp[]): PeerModule => ({
      name,
      ops,
      open: async () => {
        opened.push(name);
        return { close() {} };
      },
    });
    const device = {} as GPUDevice;
    expect(await runPeerMoE(device, [peer('a'), peer('b', ['gemm'])], { quick: true })).toEqual([]);
    expect(await runPeerGemms(device, [peer('c', ['qmoe'])], { quick: true })).toEqual([]);
    expect(opened).toEqual([]);
  });

  it('tries a QMoE shape once more in a fresh session when its output is off, and counts only a matching one', async () => {
    const { hidden: H, experts: E } = benchShapes(true).moe;
    const router = randomArray(E * H, 6, 1 / Math.sqrt(H)); // runPeerMoE's router (its documented seeds)
    // A peer whose first `wrong` outputs at T = 64 are off by 70% (as onnxruntime-web's QMoE on SwiftShader now and then).
    const flaky = (wrong: number): PeerModule & { calls: number[] } => {
      const calls: number[] = [];
      let off = wrong;
      return {
        name: 'flaky',
        ops: ['qmoe'],
        calls,
        open: async () => ({
          qmoe(s, w, x) {
            calls.push(s.tokens);
            const scale = s.tokens === 64 && off-- > 0 ? 1.7 : 1;
            const y = Float32Array.from(qmoeReference(s, w, x, router, s.tokens), (v) => v * scale);
            return { run: async () => {}, read: async () => y, dispose() {} };
          },
          close() {},
        }),
      };
    };
    const once = flaky(1);
    const records = await runPeerMoE({} as GPUDevice, [once], { quick: true, runs: 1 });
    expect(once.calls).toEqual([1, 64, 64]);
    expect(records.map((r) => r.shape.split(' ')[0])).toEqual(['T=1', 'T=64']);
    expect(records[0].note).not.toMatch(/second try/);
    expect(records[1].note).toMatch(/timed on a second try, the first one's output was off \(relative error 7\.00e-1\)/);
    for (const r of records) expect(r.error).toBeLessThanOrEqual(1e-6);
    await expect(runPeerMoE({} as GPUDevice, [flaky(2)], { quick: true, runs: 1 })).rejects.toThrow(
      /peer flaky qmoe T=64 .*differs from the float64 reference/,
    );
  });

  it('lists the QMoE peers among the peer modules', () => {
    expect(PEER_FILES).toEqual(expect.arrayContaining(['ort.mjs', 'ort-node-cpu.mjs', 'ort-node-webgpu.mjs']));
  });
});
