// The CPU shard's expert rows against the float64 reference: SwiGLU and gpt-oss's clamped SwiGLU
// (a limit low enough that gate and up clamp often), with and without the experts' biases.
import { describe, expect, it } from 'vitest';
import type { Activation } from '../../../src/kernels/expertMatmul.js';
import { referenceDown, referenceGateUp, relativeError } from '../../../src/moe/reference.js';
import { cpuExpertRows } from '../../../src/moe/sharded/cpuExperts.js';
import { Rng } from '../../ref/rng.js';

describe('cpuExpertRows', () => {
  it('gives w · (down(act(gate·x + bg, up·x + bu)) + bd) of the reference, over random shapes', () => {
    const rng = new Rng(17);
    const activations: (Activation | undefined)[] = [undefined, { kind: 'swiglu_clamped', alpha: 1.702, limit: 0.4 }, { kind: 'swiglu' }];
    for (let trial = 0; trial < 12; trial++) {
      const [n, H, I, R] = [rng.int(1, 5), rng.int(1, 40), rng.int(1, 40), rng.int(1, 20)];
      const activation = activations[trial % 3];
      const biased = trial % 2 === 0;
      const w = {
        gateUp: rng.array(n * 2 * I * H, 2 / Math.sqrt(H)),
        down: rng.array(n * H * I, 1 / Math.sqrt(I)),
        ...(biased && { gateUpBias: rng.array(n * 2 * I), downBias: rng.array(n * H) }),
      };
      const x = rng.array(R * H);
      const ids = Uint32Array.from({ length: R }, () => rng.int(0, n - 1));
      const weights = rng.array(R);
      const want = new Float64Array(R * H);
      let clamped = 0;
      for (let r = 0; r < R; r++) {
        const xr = x.subarray(r * H, (r + 1) * H);
        const h = referenceGateUp(xr, ids[r], w.gateUp, H, I, { bias: w.gateUpBias, activation });
        if (activation?.kind === 'swiglu_clamped') {
          const plain = referenceGateUp(xr, ids[r], w.gateUp, H, I, { bias: w.gateUpBias, activation: { ...activation, limit: Infinity } });
          clamped += h.filter((v, i) => v !== plain[i]).length;
        }
        referenceDown(h, ids[r], w.down, H, I, w.downBias).forEach((v, o) => (want[r * H + o] = weights[r] * v));
      }
      if (activation?.kind === 'swiglu_clamped') expect(clamped).toBeGreaterThan(0);
      const got = cpuExpertRows(x, ids, weights, w, H, I, activation);
      expect(relativeError(got, want), JSON.stringify({ n, H, I, R, activation, biased })).toBeLessThan(1e-6);
    }
  });
});
