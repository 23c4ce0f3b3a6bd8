// Multi-head Latent Attention's kernels (prep, query absorption, attention over the latent cache,
// values) against the float64 straightforward form of transformers' DeepSeek attention (test/ref/mla.ts)
// over random shapes: a prefill, then more tokens over the cache it left; f32 and f16 kv_b_proj, one
// split over bindings by heads. With several sequences, each in its own KV slot, a call carries all of
// them in shuffled slot order: one's prefill beside another's decode tokens.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capStorageBinding } from '../../src/gpu/limits.js';
import { uploadBuffer, Workspace } from '../../src/gpu/workspace.js';
import { mlaAttentionKernel, mlaPrepKernel, mlaQueryKernel, mlaValueKernel } from '../../src/kernels/mla.js';
import { relativeError } from '../../src/moe/reference.js';
import { ropeOf, ropeTable } from '../../src/model/rope.js';
import { FORMATS, type WeightDType } from '../../src/weights/format.js';
import { destroyExpertMatrix, toExpertMatrix } from '../../src/weights/matrix.js';
import { poisoned, readF32, runKernels, testDevice } from '../helpers/gpu.js';
import { latentRef, type MlaCase, mlaRef } from '../ref/mla.js';
import { Rng } from '../ref/rng.js';

let device: GPUDevice;
beforeAll(async () => {
  device = await testDevice();
});
afterAll(() => device?.destroy());

interface Shape {
  heads: number;
  C: number;
  R: number;
  nope: number;
  V: number;
  /** q_lora_rank: the prep also normalises the query latent */
  Q?: number;
  interleave: boolean;
  /** tokens of the prefill, then of the second call (sequences in odd slots: the other way round) */
  first: number;
  then: number;
  /** sequences (KV slots); default 1 */
  slots?: number;
  dtype: WeightDType;
  /** a storage binding cap that splits kv_b_proj */
  cap?: number;
}

/**
 * Runs the kernels on a call of the T rows of `a` (and q), token t at position at[2t] of slot
 * at[2t + 1], and returns the values out [T, heads·V] and qa.
 */
async function run(s: Shape, c: MlaCase & { kvBMatrix: ReturnType<typeof toExpertMatrix> }, bufs: { latent: GPUBuffer; rope: GPUBuffer; norms: GPUBuffer },
  a: Float32Array, q: Float32Array, at: Uint32Array, maxSeq: number)
{
  const ws = new Workspace(device);
  const { heads, C, R, nope, V } = s;
  const T = at.length / 2;
  const A = (s.Q ?? heads * (nope + R)) + C + R;
  const pos = uploadBuffer(device, at, 'at');
  const d = { heads, C, R, nope, V, interleave: s.interleave, maxSeq };
  const qc = poisoned(device, T * heads * (C + R) * 4);
  const lat = poisoned(device, T * heads * C * 4);
  const out = poisoned(device, T * heads * V * 4);
  const qa = s.Q ? poisoned(device, T * s.Q * 4) : undefined;
  const aBuf = ws.upload(a, 'a');
  // Without q_lora_rank the query is read out of a itself (its first heads·(nope + R) of each row).
  const [qBuf, qStride] = s.Q ? [ws.upload(q, 'q'), heads * (nope + R)] : [aBuf, A];
  await runKernels(device, () => [
    mlaPrepKernel(ws, { ...d, Q: s.Q ?? heads * (nope + R), eps: c.eps }, { at: pos, a: aBuf, norms: bufs.norms, rope: bufs.rope, latent: bufs.latent, qa }, T),
    ...mlaQueryKernel(ws, { ...d, qStride }, { at: pos, q: qBuf, kvB: c.kvBMatrix, rope: bufs.rope, qc }, T),
    mlaAttentionKernel(ws, { ...d, scale: c.scale }, { at: pos, qc, latent: bufs.latent, lat }, T),
    ...mlaValueKernel(ws, d, { lat, kvB: c.kvBMatrix, out }, T),
  ]);
  const result = { out: await readF32(device, out, T * heads * V), qa: qa && await readF32(device, qa, T * s.Q!) };
  ws.destroy();
  for (const b of [pos, qc, lat, out, qa]) b?.destroy();
  return result;
}

async function check(rng: Rng, s: Shape): Promise<void> {
  const dev = s.cap ? await testDevice() : device;
  if (s.cap) capStorageBinding(dev, s.cap);
  const swap = device;
  device = dev;
  try {
    const { heads, C, R, nope, V } = s;
    const maxSeq = s.first + s.then;
    const Qa = s.Q ?? heads * (nope + R);
    const A = Qa + C + R;
    const rope = ropeOf({ rope_theta: 500, rope_scaling: { type: 'yarn', factor: 4, original_max_position_embeddings: 16, mscale: 0.9, mscale_all_dim: 0.6 } },
      R);
    const table = ropeTable(maxSeq, rope);
    const kvBHost = rng.array(heads * (nope + V) * C, 1 / Math.sqrt(C));
    const stored = FORMATS[s.dtype].unpack(FORMATS[s.dtype].pack(kvBHost, C), C); // what the kernels read
    const norms = Float32Array.from({ length: C + (s.Q ?? 0) }, () => 1 + 0.1 * rng.normal());
    const c: MlaCase = { heads, C, R, nope, V, interleave: s.interleave, scale: 0.3 * rng.next() + 0.05, eps: 1e-6, kvB: stored, kvNorm: norms, rope: table };
    const kvBMatrix = toExpertMatrix(device, kvBHost, { experts: heads, parts: 1, outputs: nope + V, inner: C }, s.dtype, 'kv_b');
    if (s.cap) expect(kvBMatrix.chunks.length).toBeGreaterThan(1);
    const slots = s.slots ?? 1;
    const bufs = {
      latent: poisoned(device, slots * maxSeq * (C + R) * 4),
      rope: uploadBuffer(device, table, 'rope'),
      norms: uploadBuffer(device, norms, 'norms'),
    };
    // each sequence's rows of a and q at every position, and the latents they make
    const seqs = Array.from({ length: slots }, (_, slot) => {
      const a = rng.array(maxSeq * A);
      const q = rng.array(maxSeq * heads * (nope + R)); // with q_lora_rank: q_b_proj's output
      const latents = Array.from({ length: maxSeq }, (_, p) => latentRef(Array.from(a.subarray(p * A + Qa, (p + 1) * A)), p, c));
      return { slot, a, q, latents, calls: slot % 2 ? [s.then, s.first] : [s.first, s.then], pos0: 0 };
    });
    for (let call = 0; call < 2; call++) {
      const order = [...seqs].sort(() => rng.next() - 0.5);
      const tokens = order.flatMap((x) => Array.from({ length: x.calls[call] }, (_, t) => ({ x, p: x.pos0 + t })));
      const rows = (pick: (x: (typeof seqs)[number]) => Float32Array, n: number) => {
        const out = new Float32Array(tokens.length * n);
        tokens.forEach(({ x, p }, t) => out.set(pick(x).subarray(p * n, (p + 1) * n), t * n));
        return out;
      };
      const at = Uint32Array.from(tokens.flatMap(({ x, p }) => [p, x.slot]));
      const got = await run(s, { ...c, kvBMatrix }, bufs, rows((x) => x.a, A), rows((x) => x.q, heads * (nope + R)), at, maxSeq);
      tokens.forEach(({ x, p }, t) => {
        const qRow = s.Q ? x.q.subarray(p * heads * (nope + R)) : x.a.subarray(p * A);
        const want = mlaRef(qRow, p, x.latents, c);
        expect(relativeError(got.out.subarray(t * heads * V, (t + 1) * heads * V), want), `${JSON.stringify(s)} slot ${x.slot} position ${p}`).toBeLessThan(
          1e-5,
        );
        if (got.qa) {
          const row = Array.from(x.a.subarray(p * A, p * A + Qa));
          const r = 1 / Math.sqrt(row.reduce((acc, v) => acc + v * v, 0) / Qa + c.eps);
          expect(relativeError(got.qa.subarray(t * Qa, (t + 1) * Qa), row.map((v, i) => v * r * norms[C + i]))).toBeLessThan(1e-6);
        }
      });
      for (const x of seqs) x.pos0 += x.calls[call];
    }
    const cache = await readF32(device, bufs.latent, slots * maxSeq * (C + R));
    expect(relativeError(cache, seqs.flatMap((x) => x.latents.flat()))).toBeLessThan(1e-6);
    destroyExpertMatrix(kvBMatrix);
    for (const b of Object.values(bufs)) b.destroy();
  } finally {
    device = swap;
    if (s.cap) dev.destroy();
  }
}

describe('MLA kernels vs the float64 non-absorbed attention', () => {
  it('random shapes, with and without q_lora_rank, both rope layouts, over a cache, one to three sequences at once', async () => {
    const rng = new Rng(11);
    for (let i = 0; i < 8; i++) {
      await check(rng, {
        heads: rng.pick([1, 2, 3, 5, 6, 9]),
        C: rng.pick([8, 20, 64, 130]),
        R: rng.pick([2, 4, 8, 16]),
        nope: rng.pick([1, 8, 13, 32]),
        V: rng.pick([3, 16, 40, 70]),
        Q: rng.pick([undefined, 12, 48]),
        interleave: i % 2 === 0,
        first: rng.pick([1, 4, 70]),
        then: rng.pick([1, 3]),
        slots: rng.pick([1, 2, 3]),
        dtype: 'f32',
      });
    }
  });

  it('DeepSeek-V2-Lite head sizes (C 512, R 64, nope 128, V 128), 6 heads (a workgroup of 4, one of 2), over more than one tile of keys', async () => {
    await check(new Rng(12), { heads: 6, C: 512, R: 64, nope: 128, V: 128, interleave: true, first: 66, then: 2, dtype: 'f32' });
  });

  it('f16 kv_b_proj, and one split over bindings by whole heads', async () => {
    const rng = new Rng(13);
    await check(rng, { heads: 3, C: 40, R: 8, nope: 16, V: 24, Q: 32, interleave: true, first: 5, then: 1, dtype: 'f16', slots: 2 });
    // kv_b of 6 heads × 56 rows × 40 f32: 8960 bytes a head, 2 heads a 20 KiB binding
    await check(rng, { heads: 6, C: 40, R: 8, nope: 16, V: 40, interleave: false, first: 3, then: 2, dtype: 'f32', cap: 20480 });
  });
});
