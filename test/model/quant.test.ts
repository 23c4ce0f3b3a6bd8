// q8 / q4 expert weights in whole models: logits of the fixture checkpoints against the float64
// golden logits (unquantized weights). Reported, loosely bounded: the tight checks of the kernels
// against the dequantized reference are in test/moe/quant.test.ts and test/kernels/expertMatmul.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/api/engine.js';
import { nodeDirSource } from '../../src/io/nodeSource.js';
import '../../src/platform/nodeWorkers.js';
import { buildWorkers } from '../helpers/workers.js';
import { relativeError } from '../../src/moe/reference.js';
import { testDevice } from '../helpers/gpu.js';
import { DTYPE_MODELS, FAMILY_MODELS, fixtureDecoder, golden, modelDir } from '../helpers/models.js';

/** Loose sanity bounds on the worst position's relative L2 logits error (measured in docs/quantization.md). */
const BOUND = { f32: 1e-4, q8: 0.05, q4: 1 };

describe('quantized experts in the fixture models', () => {
  let device: GPUDevice;
  beforeAll(async () => {
    device = await testDevice();
  });
  afterAll(() => device.destroy());

  it('logits relative error vs the float64 reference, f32 / q8 / q4', async () => {
    const rows: string[] = [];
    for (const name of [...FAMILY_MODELS, ...DTYPE_MODELS]) {
      const g = golden(name);
      const V = g.logits[0].length;
      const cells: string[] = [];
      for (const dtype of ['f32', 'q8', 'q4'] as const) {
        const decoder = await fixtureDecoder(device, name, { dtype });
        const logits = await decoder.forward(g.tokens, 0, 'all');
        decoder.destroy();
        const errors = g.logits.map((row, t) => relativeError(logits.subarray(t * V, (t + 1) * V), row));
        const worst = Math.max(...errors);
        const mean = errors.reduce((a, b) => a + b, 0) / errors.length;
        cells.push(`${dtype} mean ${mean.toExponential(2)} max ${worst.toExponential(2)}`);
        expect(worst, `${name} ${dtype}`).toBeLessThan(BOUND[dtype]);
      }
      rows.push(`${name.padEnd(14)} ${cells.join(' | ')}`);
    }
    console.log(`logits relative L2 error per position vs golden (float64, unquantized):\n${rows.join('\n')}`);
  });

  it('q4 experts on a GPU worker and a CPU worker (which dequantizes) give the fused q4 logits', async () => {
    await buildWorkers();
    const g = golden('mixtral');
    const load = (o = {}) => Engine.load(device, nodeDirSource(modelDir('mixtral')), { contextLength: 64, dtype: 'q4', ...o });
    const fused = await load();
    const parallel = await load({ workers: ['gpu', 'cpu'], placement: [[7, 0, 2], [1, 3, 4, 5, 6]] });
    try {
      const ref = await fused.logits(g.tokens);
      const got = await parallel.logits(g.tokens);
      got.forEach((row, t) => expect(relativeError(row, ref[t])).toBeLessThan(1e-5));
    } finally {
      fused.dispose();
      parallel.dispose();
    }
  });
});
