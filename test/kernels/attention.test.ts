// The attention kernels against float64 references: attention over the KV cache (causal, sliding
// windows over a ring of cache slots, attention sinks) and the prep kernel that fills it (bias, q/k
// norms, clip_qkv, rotation, ring slots), over random shapes; outputs and caches poisoned first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attentionKernel, attentionPrepKernel, type QKNorm } from '../../src/kernels/attention.js';
import { Workspace } from '../../src/gpu/workspace.js';
import { relativeError } from '../../src/moe/reference.js';
import { ropeTable } from '../../src/model/rope.js';
import { poisoned, readF32, runKernels, testDevice } from '../helpers/gpu.js';
import { Rng } from '../ref/rng.js';

let device: GPUDevice;
beforeAll(async () => {
  device = await testDevice();
});
afterAll(() => device?.destroy());

interface Case {
  heads: number;
  kvHeads: number;
  D: number;
  T: number;
  pos0: number;
  /** 0: full causal attention */
  window: number;
  /** cache slots: ≥ pos0 + T without a window, ≥ window + T − 1 with one (a ring) */
  maxSeq: number;
  sinks: boolean;
}

const slotOf = (c: Case, j: number) => (c.window ? j % c.maxSeq : j);

/** keys and values of every position 0 … pos0 + T − 1, [Hkv][positions][D], and the ring they fill. */
function cacheOf(rng: Rng, c: Case) {
  const positions = c.pos0 + c.T;
  const k = Array.from({ length: c.kvHeads }, () => Array.from({ length: positions }, () => rng.array(c.D)));
  const v = Array.from({ length: c.kvHeads }, () => Array.from({ length: positions }, () => rng.array(c.D)));
  const ring = (x: Float32Array[][]) => {
    const out = rng.array(c.kvHeads * c.maxSeq * c.D); // slots no position reaches hold noise
    // in order of position, so a later position overwrites an earlier one in its slot
    x.forEach((rows, g) => rows.forEach((row, j) => out.set(row, (g * c.maxSeq + slotOf(c, j)) * c.D)));
    return out;
  };
  return { k, v, kRing: ring(k), vRing: ring(v) };
}

/** out[t, h] = Σ_j softmax(scale · q·k_j, with the sink in the denominator) v_j over the visible keys. */
function attentionRef(c: Case, q: Float32Array, k: Float32Array[][], v: Float32Array[][], sinks: Float32Array, scale: number): Float64Array {
  const out = new Float64Array(c.T * c.heads * c.D);
  const group = c.heads / c.kvHeads;
  for (let t = 0; t < c.T; t++) {
    const p = c.pos0 + t;
    const first = c.window ? Math.max(0, p - c.window + 1) : 0; // transformers: p − W < j ≤ p
    for (let h = 0; h < c.heads; h++) {
      const g = Math.floor(h / group);
      const qh = q.subarray((t * c.heads + h) * c.D, (t * c.heads + h + 1) * c.D);
      const s: number[] = [];
      for (let j = first; j <= p; j++) s.push(qh.reduce((a, x, d) => a + x * k[g][j][d], 0) * scale);
      const m = Math.max(...s, c.sinks ? sinks[h] : -Infinity);
      const e = s.map((x) => Math.exp(x - m));
      const denom = e.reduce((a, x) => a + x, 0) + (c.sinks ? Math.exp(sinks[h] - m) : 0);
      for (let d = 0; d < c.D; d++) {
        out[(t * c.heads + h) * c.D + d] = e.reduce((a, x, i) => a + x * v[g][first + i][d], 0) / denom;
      }
    }
  }
  return out;
}

async function runAttention(c: Case, seed: number): Promise<number> {
  const rng = new Rng(seed);
  const q = rng.array(c.T * c.heads * c.D);
  const { k, v, kRing, vRing } = cacheOf(rng, c);
  const sinks = rng.array(c.heads, 2);
  const scale = 1 / Math.sqrt(c.D);
  const ws = new Workspace(device);
  const out = poisoned(device, q.byteLength);
  await runKernels(device, () => [
    attentionKernel(ws, { heads: c.heads, kvHeads: c.kvHeads, headDim: c.D, maxSeq: c.maxSeq, scale, window: c.window || undefined, sinks: c.sinks }, {
      pos0: ws.uniform([c.pos0], 'pos0'),
      q: ws.upload(q, 'q'),
      cache: { k: ws.upload(kRing, 'k'), v: ws.upload(vRing, 'v') },
      sinks: ws.upload(c.sinks ? sinks : new Float32Array(1), 'sinks'),
      out,
    }, c.T),
  ]);
  const err = relativeError(await readF32(device, out, q.length), attentionRef(c, q, k, v, sinks, scale));
  ws.destroy();
  out.destroy();
  return err;
}

describe('attention kernel', () => {
  it('causal, sliding-window and sink attention over random shapes, against float64', async () => {
    const rng = new Rng(17);
    for (let i = 0; i < 24; i++) {
      const [heads, kvHeads] = rng.pick([[1, 1], [4, 2], [8, 1], [6, 3], [16, 4], [5, 5]]);
      const D = rng.pick([2, 8, 24, 64, 80, 130, 256]);
      const T = rng.pick([1, 2, 7, 70]);
      const pos0 = rng.pick([0, 3, 64, 130]);
      const window = rng.pick([0, 1, 2, 5, 64, 10000]);
      // the smallest ring that keeps every key of a call (window + T − 1), a bigger one, or no wrap at all
      // (a ring longer than every position never wraps: capped there)
      const maxSeq = window ? Math.min(rng.pick([window + T - 1, window + T + 5]), pos0 + T + 3) : pos0 + T + rng.int(0, 3);
      const c: Case = { heads, kvHeads, D, T, pos0, window, maxSeq, sinks: rng.next() < 0.5 };
      expect(await runAttention(c, 100 + i), JSON.stringify(c)).toBeLessThan(1e-5);
    }
  });

  it('edges: a window of 1 (each query sees itself), a window past every position, a sink alone against one key', async () => {
    const cases: Case[] = [
      { heads: 4, kvHeads: 2, D: 24, T: 7, pos0: 0, window: 1, maxSeq: 7, sinks: false },
      { heads: 4, kvHeads: 2, D: 24, T: 7, pos0: 9, window: 1, maxSeq: 7, sinks: true },
      { heads: 4, kvHeads: 2, D: 64, T: 3, pos0: 5, window: 500, maxSeq: 8, sinks: false },
      { heads: 2, kvHeads: 1, D: 16, T: 1, pos0: 0, window: 0, maxSeq: 1, sinks: true },
      { heads: 2, kvHeads: 1, D: 16, T: 65, pos0: 200, window: 4, maxSeq: 68, sinks: true },
    ];
    for (const [i, c] of cases.entries()) expect(await runAttention(c, 200 + i), JSON.stringify(c)).toBeLessThan(1e-5);
  });
});

interface PrepCase {
  heads: number;
  kvHeads: number;
  D: number;
  T: number;
  pos0: number;
  maxSeq: number;
  norm: QKNorm;
  clip?: number;
}

describe('attention prep kernel', () => {
  it('bias, q/k norms, clip_qkv, rotation, and the cache slot of each position (a ring), against float64', async () => {
    const rng = new Rng(5);
    const cases: PrepCase[] = [
      { heads: 4, kvHeads: 2, D: 16, T: 7, pos0: 0, maxSeq: 7, norm: 'none' },
      { heads: 4, kvHeads: 2, D: 24, T: 3, pos0: 9, maxSeq: 5, norm: 'head' },
      { heads: 6, kvHeads: 3, D: 130, T: 5, pos0: 2, maxSeq: 6, norm: 'full', clip: 0.3 },
      { heads: 2, kvHeads: 2, D: 8, T: 4, pos0: 13, maxSeq: 4, norm: 'none', clip: 0.5 },
      { heads: 8, kvHeads: 1, D: 64, T: 1, pos0: 40, maxSeq: 41, norm: 'head', clip: 1 },
    ];
    for (const c of cases) {
      const { heads: Hq, kvHeads: Hkv, D, T } = c;
      const width = (Hq + 2 * Hkv) * D;
      const qkv = rng.array(T * width);
      const bias = rng.array(width, 0.2);
      const norms = c.norm === 'head'
        ? rng.array(2 * D, 0.1).map((x) => 1 + x)
        : c.norm === 'full'
        ? rng.array((Hq + Hkv) * D, 0.1).map((x) => 1 + x)
        : new Float32Array(1);
      const eps = 1e-6;
      const rope = ropeTable(c.pos0 + T, { invFreq: Array.from({ length: D / 2 }, (_, i) => 10000 ** (-(2 * i) / D)), attentionFactor: 1.2 });

      // float64: x = qkv + bias; RMSNorm of the span (head, or all q / all k heads) × weights; clamp; rotate half
      const qRef = new Float64Array(T * Hq * D);
      const kRef = new Float64Array(Hkv * c.maxSeq * D).fill(NaN);
      const vRef = new Float64Array(Hkv * c.maxSeq * D).fill(NaN);
      const clip = (x: number) => (c.clip ? Math.min(c.clip, Math.max(-c.clip, x)) : x);
      for (let t = 0; t < T; t++) {
        const x = Array.from({ length: width }, (_, i) => qkv[t * width + i] + bias[i]);
        const pos = c.pos0 + t;
        const slot = pos % c.maxSeq;
        for (let head = 0; head < Hq + 2 * Hkv; head++) {
          const row = x.slice(head * D, head * D + D);
          if (head >= Hq + Hkv) {
            row.forEach((r, d) => (vRef[((head - Hq - Hkv) * c.maxSeq + slot) * D + d] = clip(r)));
            continue;
          }
          const isQ = head < Hq;
          let scale = 1;
          let w = (_d: number) => 1;
          if (c.norm === 'head') {
            scale = 1 / Math.sqrt(row.reduce((a, r) => a + r * r, 0) / D + eps);
            w = (d) => norms[(isQ ? 0 : D) + d];
          } else if (c.norm === 'full') {
            const span = isQ ? x.slice(0, Hq * D) : x.slice(Hq * D, (Hq + Hkv) * D);
            scale = 1 / Math.sqrt(span.reduce((a, r) => a + r * r, 0) / span.length + eps);
            w = (d) => norms[head * D + d];
          }
          const n = row.map((r, d) => clip(r * scale * w(d)));
          const half = D / 2;
          for (let i = 0; i < half; i++) {
            const [cos, sin] = [rope[(pos * half + i) * 2], rope[(pos * half + i) * 2 + 1]];
            const [ra, rb] = [n[i] * cos - n[i + half] * sin, n[i + half] * cos + n[i] * sin];
            const at = isQ ? (t * Hq + head) * D : ((head - Hq) * c.maxSeq + slot) * D;
            (isQ ? qRef : kRef)[at + i] = ra;
            (isQ ? qRef : kRef)[at + i + half] = rb;
          }
        }
      }

      const ws = new Workspace(device);
      const [q, k, v] = [poisoned(device, qRef.length * 4), poisoned(device, kRef.length * 4), poisoned(device, vRef.length * 4)];
      await runKernels(device, () => [
        attentionPrepKernel(ws, { heads: Hq, kvHeads: Hkv, headDim: D, maxSeq: c.maxSeq, norm: c.norm, eps, clip: c.clip }, {
          pos0: ws.uniform([c.pos0], 'pos0'),
          qkv: ws.upload(qkv, 'qkv'),
          bias: ws.upload(bias, 'bias'),
          norms: ws.upload(norms, 'norms'),
          rope: ws.upload(rope, 'rope'),
          q,
          cache: { k, v },
        }, T),
      ]);
      // slots no position of the call reaches stay poisoned: compare the written ones
      const written = (ref: Float64Array, got: Float32Array) => {
        const idx = [...ref.keys()].filter((i) => !Number.isNaN(ref[i]));
        expect(idx.length).toBeGreaterThan(0);
        return relativeError(idx.map((i) => got[i]), idx.map((i) => ref[i]));
      };
      const label = JSON.stringify(c);
      expect(relativeError(await readF32(device, q, qRef.length), qRef), label).toBeLessThan(1e-5);
      expect(written(kRef, await readF32(device, k, kRef.length)), label).toBeLessThan(1e-5);
      expect(written(vRef, await readF32(device, v, vRef.length)), label).toBeLessThan(1e-5);
      if (c.clip) expect(Math.max(...vRef.filter((x) => !Number.isNaN(x)).map(Math.abs))).toBeLessThanOrEqual(c.clip);
      ws.destroy();
      for (const b of [q, k, v]) b.destroy();
    }
  });
});
