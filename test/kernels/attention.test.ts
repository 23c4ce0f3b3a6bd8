// The attention kernels against float64 references: attention over the KV cache (causal, sliding
// windows over a ring of cache rows, attention sinks) and the prep kernel that fills it (bias, q/k
// norms, clip_qkv, rotation, ring rows), over random shapes; outputs and caches poisoned first. A
// call carries tokens of several sequences (parts, in shuffled slot order), each in its own KV slot's
// region at its own positions: prefill chunks beside decode tokens.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attentionDecodeKernel, attentionKernel, attentionPrepKernel, type QKNorm } from '../../src/kernels/attention.js';
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

/** One sequence's tokens in a call: T tokens at positions pos0 … in KV slot `slot`. */
interface Part {
  slot: number;
  pos0: number;
  T: number;
}

interface Case {
  heads: number;
  kvHeads: number;
  D: number;
  /** the call's tokens, part after part; each part's slot its own */
  parts: Part[];
  /** KV slots the cache holds (regions of maxSeq rows) */
  slots: number;
  /** 0: full causal attention */
  window: number;
  /** cache rows a slot holds: ≥ pos0 + T without a window, ≥ window + T − 1 with one (a ring) */
  maxSeq: number;
  sinks: boolean;
}

/** The call's tokens in order: position and slot each. */
const tokensOf = (c: { parts: Part[] }) => c.parts.flatMap((p) => Array.from({ length: p.T }, (_, k) => ({ pos: p.pos0 + k, slot: p.slot })));

/** The kernels' `at` binding: (position, slot) per token. */
const atOf = (ws: Workspace, c: { parts: Part[] }) => ws.upload(Uint32Array.from(tokensOf(c).flatMap(({ pos, slot }) => [pos, slot])), 'at');

/** The highest position + 1 a slot's tokens reach (a slot without tokens: none, its rows noise). */
const lengthOf = (c: Case, s: number) => Math.max(0, ...c.parts.filter((p) => p.slot === s).map((p) => p.pos0 + p.T));

const rowOf = (c: Case, j: number) => (c.window ? j % c.maxSeq : j);

/**
 * Keys and values of every position of every slot, [slots][Hkv][positions][D], and the cache they fill
 * ([slots, Hkv, maxSeq, D], a ring per slot).
 */
function cacheOf(rng: Rng, c: Case) {
  const made = () =>
    Array.from({ length: c.slots }, (_, s) => Array.from({ length: c.kvHeads }, () => Array.from({ length: lengthOf(c, s) }, () => rng.array(c.D))));
  const k = made();
  const v = made();
  const ring = (x: Float32Array[][][]) => {
    const out = rng.array(c.slots * c.kvHeads * c.maxSeq * c.D); // rows no position reaches hold noise
    // in order of position, so a later position overwrites an earlier one in its row
    x.forEach((heads, s) => heads.forEach((rows, g) => rows.forEach((row, j) => out.set(row, ((s * c.kvHeads + g) * c.maxSeq + rowOf(c, j)) * c.D))));
    return out;
  };
  return { k, v, kRing: ring(k), vRing: ring(v) };
}

/** out[t, h] = Σ_j softmax(scale · q·k_j, with the sink in the denominator) v_j over the visible keys of t's slot. */
function attentionRef(c: Case, q: Float32Array, k: Float32Array[][][], v: Float32Array[][][], sinks: Float32Array, scale: number): Float64Array {
  const tokens = tokensOf(c);
  const out = new Float64Array(tokens.length * c.heads * c.D);
  const group = c.heads / c.kvHeads;
  tokens.forEach(({ pos: p, slot }, t) => {
    const first = c.window ? Math.max(0, p - c.window + 1) : 0; // transformers: p − W < j ≤ p
    for (let h = 0; h < c.heads; h++) {
      const [ks, vs] = [k[slot][Math.floor(h / group)], v[slot][Math.floor(h / group)]];
      const qh = q.subarray((t * c.heads + h) * c.D, (t * c.heads + h + 1) * c.D);
      const s: number[] = [];
      for (let j = first; j <= p; j++) s.push(qh.reduce((a, x, d) => a + x * ks[j][d], 0) * scale);
      const m = Math.max(...s, c.sinks ? sinks[h] : -Infinity);
      const e = s.map((x) => Math.exp(x - m));
      const denom = e.reduce((a, x) => a + x, 0) + (c.sinks ? Math.exp(sinks[h] - m) : 0);
      for (let d = 0; d < c.D; d++) {
        out[(t * c.heads + h) * c.D + d] = e.reduce((a, x, i) => a + x * vs[first + i][d], 0) / denom;
      }
    }
  });
  return out;
}

/** `counts` parts in distinct slots of `slots`, shuffled, each at a random position (its tokens fitting `room`). */
function partsOf(rng: Rng, slots: number, counts: number[], pos0s: number[]): Part[] {
  const free = Array.from({ length: slots }, (_, s) => s);
  return counts.map((T) => ({ slot: free.splice(rng.int(0, free.length - 1), 1)[0], pos0: rng.pick(pos0s), T }));
}

/** The smallest ring that keeps every key of a call (window + T − 1), a bigger one, or no wrap at all (capped there). */
function ringOf(rng: Rng, parts: Part[], window: number): number {
  const T = Math.max(...parts.map((p) => p.T));
  const end = Math.max(...parts.map((p) => p.pos0 + p.T));
  return window ? Math.min(rng.pick([window + T - 1, window + T + 5]), end + 3) : end + rng.int(0, 3);
}

async function runAttention(c: Case, seed: number): Promise<number> {
  const rng = new Rng(seed);
  const T = tokensOf(c).length;
  const q = rng.array(T * c.heads * c.D);
  const { k, v, kRing, vRing } = cacheOf(rng, c);
  const sinks = rng.array(c.heads, 2);
  const scale = 1 / Math.sqrt(c.D);
  const ws = new Workspace(device);
  const out = poisoned(device, q.byteLength);
  await runKernels(device, () => [
    attentionKernel(ws, { heads: c.heads, kvHeads: c.kvHeads, headDim: c.D, maxSeq: c.maxSeq, scale, window: c.window || undefined, sinks: c.sinks }, {
      at: atOf(ws, c),
      q: ws.upload(q, 'q'),
      cache: { k: ws.upload(kRing, 'k'), v: ws.upload(vRing, 'v') },
      sinks: ws.upload(c.sinks ? sinks : new Float32Array(1), 'sinks'),
      out,
    }, T),
  ]);
  const err = relativeError(await readF32(device, out, q.length), attentionRef(c, q, k, v, sinks, scale));
  ws.destroy();
  out.destroy();
  return err;
}

describe('attention kernel', () => {
  it('causal, sliding-window and sink attention over random shapes and batches of sequences, against float64', async () => {
    const rng = new Rng(17);
    for (let i = 0; i < 24; i++) {
      const [heads, kvHeads] = rng.pick([[1, 1], [4, 2], [8, 1], [6, 3], [16, 4], [5, 5]]);
      const D = rng.pick([2, 8, 24, 64, 80, 130, 256]);
      const slots = rng.pick([1, 1, 2, 3, 4]);
      // a prefill chunk beside decode tokens, several chunks, or one sequence alone
      const counts = rng.pick([[1], [2], [7], [70], [7, 1], [1, 1, 1], [1, 70], [2, 7, 1]]).slice(0, slots);
      const parts = partsOf(rng, slots, counts, [0, 3, 64, 130]);
      const window = rng.pick([0, 1, 2, 5, 64, 10000]);
      const c: Case = { heads, kvHeads, D, parts, slots, window, maxSeq: ringOf(rng, parts, window), sinks: rng.next() < 0.5 };
      expect(await runAttention(c, 100 + i), JSON.stringify(c)).toBeLessThan(1e-5);
    }
  });

  it('edges: a window of 1 (each query sees itself), a window past every position, a sink alone against one key, slots in reverse', async () => {
    const one = (pos0: number, T: number): Part[] => [{ slot: 0, pos0, T }];
    const cases: Case[] = [
      { heads: 4, kvHeads: 2, D: 24, parts: one(0, 7), slots: 1, window: 1, maxSeq: 7, sinks: false },
      { heads: 4, kvHeads: 2, D: 24, parts: one(9, 7), slots: 1, window: 1, maxSeq: 7, sinks: true },
      { heads: 4, kvHeads: 2, D: 64, parts: one(5, 3), slots: 1, window: 500, maxSeq: 8, sinks: false },
      { heads: 2, kvHeads: 1, D: 16, parts: one(0, 1), slots: 1, window: 0, maxSeq: 1, sinks: true },
      { heads: 2, kvHeads: 1, D: 16, parts: one(200, 65), slots: 1, window: 4, maxSeq: 68, sinks: true },
      {
        heads: 4,
        kvHeads: 2,
        D: 24,
        parts: [{ slot: 2, pos0: 0, T: 1 }, { slot: 1, pos0: 30, T: 5 }, { slot: 0, pos0: 12, T: 1 }],
        slots: 3,
        window: 4,
        maxSeq: 8,
        sinks: true,
      },
    ];
    for (const [i, c] of cases.entries()) expect(await runAttention(c, 200 + i), JSON.stringify(c)).toBeLessThan(1e-5);
  });
});

interface PrepCase {
  heads: number;
  kvHeads: number;
  D: number;
  parts: Part[];
  slots: number;
  maxSeq: number;
  norm: QKNorm;
  clip?: number;
}

/** Random prep inputs of `c`: qkv [T, width], bias, q/k norm weights, rope table. */
function prepInputs(rng: Rng, c: PrepCase) {
  const { heads: Hq, kvHeads: Hkv, D } = c;
  const tokens = tokensOf(c);
  const T = tokens.length;
  const width = (Hq + 2 * Hkv) * D;
  const qkv = rng.array(T * width);
  const bias = rng.array(width, 0.2);
  const norms = c.norm === 'head'
    ? rng.array(2 * D, 0.1).map((x) => 1 + x)
    : c.norm === 'full'
    ? rng.array((Hq + Hkv) * D, 0.1).map((x) => 1 + x)
    : new Float32Array(1);
  const rope = ropeTable(Math.max(...tokens.map((t) => t.pos)) + 1, { invFreq: Array.from({ length: D / 2 }, (_, i) => 10000 ** (-(2 * i) / D)),
    attentionFactor: 1.2 });
  return { qkv, bias, norms, rope, eps: 1e-6 };
}

/**
 * float64: x = qkv + bias; RMSNorm of the span (head, or all q / all k heads) × weights; clamp; rotate
 * half, by each token's position. q [T, Hq, D]; k and v [Hkv][T][D], by the call's token.
 */
function prepRef(c: PrepCase, i: ReturnType<typeof prepInputs>) {
  const { heads: Hq, kvHeads: Hkv, D } = c;
  const tokens = tokensOf(c);
  const T = tokens.length;
  const width = (Hq + 2 * Hkv) * D;
  const q = new Float64Array(T * Hq * D);
  const k = Array.from({ length: Hkv }, () => Array.from({ length: T }, () => new Float64Array(D)));
  const v = Array.from({ length: Hkv }, () => Array.from({ length: T }, () => new Float64Array(D)));
  const clip = (x: number) => (c.clip ? Math.min(c.clip, Math.max(-c.clip, x)) : x);
  for (let t = 0; t < T; t++) {
    const x = Array.from({ length: width }, (_, j) => i.qkv[t * width + j] + i.bias[j]);
    const { pos } = tokens[t];
    for (let head = 0; head < Hq + 2 * Hkv; head++) {
      const row = x.slice(head * D, head * D + D);
      if (head >= Hq + Hkv) {
        row.forEach((r, d) => (v[head - Hq - Hkv][t][d] = clip(r)));
        continue;
      }
      const isQ = head < Hq;
      let scale = 1;
      let w = (_d: number) => 1;
      if (c.norm === 'head') {
        scale = 1 / Math.sqrt(row.reduce((a, r) => a + r * r, 0) / D + i.eps);
        w = (d) => i.norms[(isQ ? 0 : D) + d];
      } else if (c.norm === 'full') {
        const span = isQ ? x.slice(0, Hq * D) : x.slice(Hq * D, (Hq + Hkv) * D);
        scale = 1 / Math.sqrt(span.reduce((a, r) => a + r * r, 0) / span.length + i.eps);
        w = (d) => i.norms[head * D + d];
      }
      const n = row.map((r, d) => clip(r * scale * w(d)));
      const half = D / 2;
      const out = isQ ? q.subarray((t * Hq + head) * D, (t * Hq + head + 1) * D) : k[head - Hq][t];
      for (let j = 0; j < half; j++) {
        const [cos, sin] = [i.rope[(pos * half + j) * 2], i.rope[(pos * half + j) * 2 + 1]];
        out[j] = n[j] * cos - n[j + half] * sin;
        out[j + half] = n[j + half] * cos + n[j] * sin;
      }
    }
  }
  return { q, k, v };
}

/** The prep kernels' uploads of `i` */
const prepBuffers = (ws: Workspace, c: PrepCase, i: ReturnType<typeof prepInputs>) => ({
  at: atOf(ws, c),
  qkv: ws.upload(i.qkv, 'qkv'),
  bias: ws.upload(i.bias, 'bias'),
  norms: ws.upload(i.norms, 'norms'),
  rope: ws.upload(i.rope, 'rope'),
});

describe('attention prep kernel', () => {
  it('bias, q/k norms, clip_qkv, rotation, and the cache row of each token (its slot, a ring), against float64', async () => {
    const rng = new Rng(5);
    const one = (pos0: number, T: number): Part[] => [{ slot: 0, pos0, T }];
    const cases: PrepCase[] = [
      { heads: 4, kvHeads: 2, D: 16, parts: one(0, 7), slots: 1, maxSeq: 7, norm: 'none' },
      { heads: 4, kvHeads: 2, D: 24, parts: one(9, 3), slots: 1, maxSeq: 5, norm: 'head' },
      { heads: 6, kvHeads: 3, D: 130, parts: one(2, 5), slots: 1, maxSeq: 6, norm: 'full', clip: 0.3 },
      { heads: 2, kvHeads: 2, D: 8, parts: one(13, 4), slots: 1, maxSeq: 4, norm: 'none', clip: 0.5 },
      { heads: 8, kvHeads: 1, D: 64, parts: one(40, 1), slots: 1, maxSeq: 41, norm: 'head', clip: 1 },
      // sequences in slots 3, 0 and 2 of 4: a prefill chunk between decode tokens
      { heads: 4, kvHeads: 2, D: 24, parts: [{ slot: 3, pos0: 6, T: 1 }, { slot: 0, pos0: 2, T: 5 }, { slot: 2, pos0: 0, T: 1 }], slots: 4, maxSeq: 8,
        norm: 'head' },
      { heads: 6, kvHeads: 3, D: 16, parts: [{ slot: 1, pos0: 11, T: 3 }, { slot: 0, pos0: 4, T: 3 }], slots: 2, maxSeq: 5, norm: 'full', clip: 0.4 },
    ];
    for (const c of cases) {
      const { heads: Hq, kvHeads: Hkv, D } = c;
      const tokens = tokensOf(c);
      const inputs = prepInputs(rng, c);
      const ref = prepRef(c, inputs);
      // the cache as the kernel leaves it: each token's k and v in its slot's row of its position
      const size = c.slots * Hkv * c.maxSeq * D;
      const kRef = new Float64Array(size).fill(NaN);
      const vRef = new Float64Array(size).fill(NaN);
      for (let g = 0; g < Hkv; g++) {
        tokens.forEach(({ pos, slot }, t) => {
          const at = ((slot * Hkv + g) * c.maxSeq + pos % c.maxSeq) * D;
          kRef.set(ref.k[g][t], at);
          vRef.set(ref.v[g][t], at);
        });
      }
      const ws = new Workspace(device);
      const [q, k, v] = [poisoned(device, ref.q.length * 4), poisoned(device, size * 4), poisoned(device, size * 4)];
      await runKernels(device, () => [
        attentionPrepKernel(ws, { heads: Hq, kvHeads: Hkv, headDim: D, maxSeq: c.maxSeq, norm: c.norm, eps: inputs.eps, clip: c.clip }, {
          ...prepBuffers(ws, c, inputs),
          q,
          cache: { k, v },
        }, tokens.length),
      ]);
      // rows no token of the call reaches stay poisoned: compare the written ones, and that the others are
      const written = (ref: Float64Array, got: Float32Array) => {
        const idx = [...ref.keys()].filter((i) => !Number.isNaN(ref[i]));
        expect(idx.length).toBeGreaterThan(0);
        expect(got.filter((x, i) => Number.isNaN(ref[i]) && !Number.isNaN(x)).length).toBe(0);
        return relativeError(idx.map((i) => got[i]), idx.map((i) => ref[i]));
      };
      const label = JSON.stringify(c);
      expect(relativeError(await readF32(device, q, ref.q.length), ref.q), label).toBeLessThan(1e-5);
      expect(written(kRef, await readF32(device, k, size)), label).toBeLessThan(1e-5);
      expect(written(vRef, await readF32(device, v, size)), label).toBeLessThan(1e-5);
      if (c.clip) expect(Math.max(...vRef.filter((x) => !Number.isNaN(x)).map(Math.abs))).toBeLessThanOrEqual(c.clip);
      ws.destroy();
      for (const b of [q, k, v]) b.destroy();
    }
  });
});

describe('attention decode kernel (prep and attention in one launch)', () => {
  /**
   * Its output against float64 prep then attention, each token's cache row against the prep, every
   * other row untouched. Every token is one sequence's, each in its own slot.
   */
  async function runDecode(c: Case & PrepCase, seed: number) {
    const rng = new Rng(seed);
    const tokens = tokensOf(c);
    const T = tokens.length;
    const inputs = prepInputs(rng, c);
    const ref = prepRef(c, inputs);
    const { k, v, kRing, vRing } = cacheOf(rng, c);
    const rows = tokens.map(({ pos, slot }) => (slot * c.kvHeads * c.maxSeq + pos % c.maxSeq) * c.D);
    tokens.forEach(({ pos, slot }, t) => {
      for (let g = 0; g < c.kvHeads; g++) {
        k[slot][g][pos] = Float32Array.from(ref.k[g][t]);
        v[slot][g][pos] = Float32Array.from(ref.v[g][t]);
        // the row the kernel writes: poison, so that a read of it before the write shows
        const at = rows[t] + g * c.maxSeq * c.D;
        kRing.fill(NaN, at, at + c.D);
        vRing.fill(NaN, at, at + c.D);
      }
    });
    const sinks = rng.array(c.heads, 2);
    const scale = 1 / Math.sqrt(c.D);
    const ws = new Workspace(device);
    const out = poisoned(device, T * c.heads * c.D * 4);
    const cache = { k: ws.upload(kRing, 'k'), v: ws.upload(vRing, 'v') };
    const d = { heads: c.heads, kvHeads: c.kvHeads, headDim: c.D, maxSeq: c.maxSeq };
    await runKernels(device, () => [
      attentionDecodeKernel(ws, { ...d, norm: c.norm, eps: inputs.eps, clip: c.clip, scale, window: c.window || undefined, sinks: c.sinks }, {
        ...prepBuffers(ws, c, inputs),
        cache,
        sinks: ws.upload(c.sinks ? sinks : new Float32Array(1), 'sinks'),
        out,
      }, T),
    ]);
    const label = JSON.stringify(c);
    const err = relativeError(await readF32(device, out, T * c.heads * c.D), attentionRef(c, Float32Array.from(ref.q), k, v, sinks, scale));
    expect(err, label).toBeLessThan(1e-5);
    for (const [ring, buffer, prepped] of [[kRing, cache.k, ref.k], [vRing, cache.v, ref.v]] as const) {
      const got = await readF32(device, buffer, ring.length);
      rows.forEach((row, t) => {
        for (let g = 0; g < c.kvHeads; g++) {
          const at = row + g * c.maxSeq * c.D;
          expect(relativeError(got.subarray(at, at + c.D), prepped[g][t]), label).toBeLessThan(1e-5);
          ring.set(got.subarray(at, at + c.D), at);
        }
      });
      expect(got.findIndex((x, i) => x !== ring[i]), label).toBe(-1); // every other row as it was
    }
    ws.destroy();
    out.destroy();
  }

  it('random shapes and batches of one token per sequence: q/k norms, clip, windows over a ring, sinks, against float64', async () => {
    const rng = new Rng(23);
    for (let i = 0; i < 16; i++) {
      const [heads, kvHeads] = rng.pick([[1, 1], [4, 2], [8, 1], [6, 3], [16, 4], [5, 5]]);
      const D = rng.pick([2, 8, 24, 64, 80, 130, 256]);
      const slots = rng.pick([1, 1, 2, 3, 5]);
      const parts = partsOf(rng, slots, new Array(rng.int(1, slots)).fill(1), [0, 3, 64, 130]);
      const window = rng.pick([0, 1, 2, 5, 64, 10000]);
      const end = Math.max(...parts.map((p) => p.pos0 + 1));
      const maxSeq = window ? Math.min(rng.pick([window, window + 5]), end + 3) : end + rng.int(0, 3);
      const norm = rng.pick(['none', 'head', 'full'] as const);
      const clip = rng.pick([undefined, 0.4]);
      await runDecode({ heads, kvHeads, D, parts, slots, window, maxSeq, sinks: rng.next() < 0.5, norm, clip }, 300 + i);
    }
  });

  it('edges: the first position (its own key alone), a window of 1, a sink against one key, two slots', async () => {
    const base = { heads: 4, kvHeads: 2, D: 24, slots: 1, norm: 'head' as const };
    await runDecode({ ...base, parts: [{ slot: 0, pos0: 0, T: 1 }], window: 0, maxSeq: 1, sinks: false }, 400);
    await runDecode({ ...base, parts: [{ slot: 0, pos0: 9, T: 1 }], window: 1, maxSeq: 1, sinks: true }, 401);
    await runDecode({ ...base, parts: [{ slot: 0, pos0: 0, T: 1 }], window: 0, maxSeq: 3, sinks: true, norm: 'full', clip: 0.2 }, 402);
    await runDecode({ ...base, slots: 2, parts: [{ slot: 1, pos0: 0, T: 1 }, { slot: 0, pos0: 2, T: 1 }], window: 0, maxSeq: 3, sinks: false }, 403);
  });
});
