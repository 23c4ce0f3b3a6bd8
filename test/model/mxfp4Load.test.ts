// MXFP4 experts through the load context (LoadContext.matrix with storage 'mxfp4', mxfp4Rows): a
// block of a test family declares a Hub blocks/scales pair, loadDecoder streams a safetensors file
// built here, and the matrix read back holds the file's values; `dtype` leaves it MXFP4; bad tensors
// are refused by name before anything is read.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/io/checkpoint.js';
import { encodeSafetensors, type EncodeTensor } from '../../src/io/safetensors.js';
import type { AttentionBlock, LoadContext, MLPBlock } from '../../src/model/blocks/block.js';
import type { ModelConfig } from '../../src/model/config.js';
import type { Family } from '../../src/model/families/family.js';
import { checkpointTensors, type DecoderLoadOptions, loadDecoder } from '../../src/model/load.js';
import type { ExpertMatrix } from '../../src/weights/matrix.js';
import { testDevice } from '../helpers/gpu.js';
import { readMatrix } from '../helpers/matrix.js';
import { hubMxfp4, hubValues, mapped } from '../helpers/mxfp4.js';
import { memSource } from '../io/mem.js';
import { Rng } from '../ref/rng.js';

const [V, H, E, I] = [4, 128, 3, 32];
const config = { family: 'mxfp4 test', vocab: V, hidden: H, layers: 1, maxPositions: 8, tieEmbeddings: true, topK: 1 } as ModelConfig;

/** gpt-oss's gate_up_proj rows: 2i gate i, 2i + 1 up i; a gated matrix holds gate rows, then up rows. */
const gateUpRow = (r: number) => (r % 2) * I + (r >> 1);

/** One layer whose MLP block declares gate/up and down as MXFP4, and a plain 'mlp' matrix beside them. */
function family(made: Record<string, ExpertMatrix>): Family {
  const attention = (): () => AttentionBlock => () => ({ cache: [], plan: () => [], destroy: () => {} });
  const mlp = (ctx: LoadContext): () => MLPBlock => {
    made.gateUp = ctx.matrix({ experts: E, parts: 2, outputs: I, inner: H }, 'gate/up', 'mlp', 'mxfp4');
    made.down = ctx.matrix({ experts: E, parts: 1, outputs: H, inner: I }, 'down', 'mlp', 'mxfp4');
    made.plain = ctx.matrix({ experts: 1, parts: 1, outputs: 2, inner: H }, 'plain', 'mlp');
    ctx.mxfp4Rows('experts.gate_up_proj_blocks', 'experts.gate_up_proj_scales', [E, 2 * I, H], made.gateUp, gateUpRow);
    ctx.mxfp4Rows('experts.down_proj_blocks', 'experts.down_proj_scales', [E, H, I], made.down);
    ctx.rows('plain', [2, H], made.plain, 0);
    // never run: the test loads, it runs no forward
    return () => ({ planRows: () => ({ steps: [], rows: { ys: {} as GPUBuffer, topK: 1 } }), destroy: () => {} });
  };
  return {
    modelType: 'mxfp4 test',
    architecture: 'Mxfp4Test',
    config: () => config,
    layer: () => ({ inputNorm: 'norm.in', postNorm: 'norm.post', attention, mlp }),
    tensors: { embed: 'embed', finalNorm: 'norm.final', lmHead: 'lm_head' },
  };
}

const f32 = (rng: Rng, shape: number[]): EncodeTensor => {
  const values = rng.array(shape.reduce((a, b) => a * b, 1));
  return { dtype: 'F32', shape, data: new Uint8Array(values.buffer) };
};

describe('MXFP4 experts through the load context', () => {
  let device: GPUDevice;
  let tensors: Record<string, EncodeTensor>;
  let gateUp: ReturnType<typeof hubMxfp4>;
  let down: ReturnType<typeof hubMxfp4>;
  beforeAll(async () => {
    device = await testDevice({ maxStorageBufferBindingSize: 4096 }); // gate/up splits by columns
    const rng = new Rng(97);
    gateUp = hubMxfp4(rng, E, 2 * I, H);
    down = hubMxfp4(rng, E, H, I);
    tensors = {
      embed: f32(rng, [V, H]),
      'norm.in': f32(rng, [H]),
      'experts.gate_up_proj_blocks': gateUp.blocks,
      'experts.gate_up_proj_scales': gateUp.scales,
      'norm.post': f32(rng, [H]),
      plain: f32(rng, [2, H]),
      'experts.down_proj_blocks': down.blocks,
      'experts.down_proj_scales': down.scales,
      'norm.final': f32(rng, [H]),
    };
  });
  afterAll(() => device?.destroy());

  async function load(t: Record<string, EncodeTensor>, o: DecoderLoadOptions = {}) {
    const made: Record<string, ExpertMatrix> = {};
    const ckpt = await openCheckpoint(memSource({ 'config.json': '{}', 'model.safetensors': encodeSafetensors(t) }, 4096));
    const decoder = await loadDecoder(device, ckpt, family(made), config, { tune: false, ...o });
    return { decoder, made };
  }

  it('loads the blocks and scales into mxfp4 matrices holding the file\'s values, gate/up rows de-interleaved; dtype applies to the rest', async () => {
    for (const dtype of ['f32', 'q4'] as const) {
      const { decoder, made } = await load(tensors, { dtype });
      expect([made.gateUp.dtype, made.down.dtype, made.plain.dtype]).toEqual(['mxfp4', 'mxfp4', dtype]);
      expect(made.gateUp.chunks.length).toBeGreaterThan(E);
      expect(Array.from(await readMatrix(device, made.gateUp))).toEqual(Array.from(mapped(hubValues(gateUp, H), 2 * I, H, gateUpRow)));
      expect(Array.from(await readMatrix(device, made.down))).toEqual(Array.from(hubValues(down, I)));
      decoder.destroy();
    }
  });

  it('lists the pair among the tensors a checkpoint must hold (the synthetic checkpoint\'s list)', () => {
    const names = checkpointTensors(family({}), config).map((t) => `${t.name} [${t.shape}]`);
    expect(names.filter((n) => n.startsWith('experts.'))).toEqual([
      'experts.gate_up_proj_blocks [3,64,4,16]',
      'experts.gate_up_proj_scales [3,64,4]',
      'experts.down_proj_blocks [3,128,1,16]',
      'experts.down_proj_scales [3,128,1]',
    ]);
  });

  it('names a blocks or scales tensor of the wrong shape or of a dtype other than U8, a NaN scale, and the dtype mxfp4 (no choice)', async () => {
    const blocks = tensors['experts.down_proj_blocks'];
    await expect(load({ ...tensors, 'experts.down_proj_blocks': { ...blocks, shape: [E, H, 2, 8] } })).rejects.toThrow(
      'webmoe: tensor experts.down_proj_blocks in model.safetensors has shape [3,128,2,8], mxfp4 test config expects [3,128,1,16]',
    );
    const scales = tensors['experts.gate_up_proj_scales'];
    await expect(load({ ...tensors, 'experts.gate_up_proj_scales': { ...scales, dtype: 'I8' as 'F32' } })).rejects.toThrow(
      'webmoe: tensor experts.gate_up_proj_scales in model.safetensors has dtype I8, MXFP4 blocks and scales are U8',
    );
    const nan = Uint8Array.from(scales.data);
    nan[(2 * 2 * I + 7) * (H / 32)] = 255;
    await expect(load({ ...tensors, 'experts.gate_up_proj_scales': { ...scales, data: nan } })).rejects.toThrow(
      'model.safetensors: tensor \'experts.gate_up_proj_scales\': scale byte 255 (NaN in E8M0) at expert 2, row 7, block 0',
    );
    await expect(load(tensors, { dtype: 'mxfp4' as 'f32' })).rejects.toThrow('webmoe: dtype must be one of \'f32\', \'f16\', \'q8\', \'q4\', got mxfp4');
    const { 'experts.down_proj_scales': _, ...missing } = tensors;
    await expect(load(missing)).rejects.toThrow(/lacks tensors the mxfp4 test config needs: experts\.down_proj_scales/);
  });
});
