import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type LoadProgress, openCheckpoint, type RawRows, readRows, type RowSink, streamTensors } from '../../src/io/checkpoint.js';
import { decodeToF32 } from '../../src/io/dtype.js';
import { nodeDirSource, nodeFile } from '../../src/io/nodeSource.js';
import { encodeSafetensors, type EncodeTensor, readSafetensorsHeader, SafetensorsError } from '../../src/io/safetensors.js';
import { type ModelSource, readRange } from '../../src/io/source.js';
import { Rng } from '../ref/rng.js';
import { collector, type FloatDType, floatTensor, type MemSource, memSource, rejection } from './mem.js';

const config = JSON.stringify({ model_type: 'test', hidden_size: 4 });

/** Named random tensors of the given dtypes and shapes, with their exact values. */
function tensors(rng: Rng, specs: Record<string, [FloatDType, number[]]>) {
  const enc: Record<string, EncodeTensor> = {};
  const values: Record<string, Float32Array> = {};
  for (const [name, [dtype, shape]] of Object.entries(specs)) {
    const t = floatTensor(rng, dtype, shape);
    enc[name] = t.tensor;
    values[name] = t.values;
  }
  return { enc, values };
}

/** Streams the named tensors and returns them whole, with each one's piece sizes (in values). */
async function load(source: ModelSource, names: string[], options: { pieceBytes?: number; gapBytes?: number; onProgress?: (p: LoadProgress) => void } = {}) {
  const ckpt = await openCheckpoint(source);
  (source as Partial<MemSource>).reads?.splice(0); // count only the tensor reads, not the headers'
  const got = new Map(names.map((n) => [n, collector(ckpt.tensors.get(n)!.shape)]));
  await streamTensors(ckpt, new Map([...got].map(([n, c]) => [n, c.sink])), options);
  return { ckpt, got };
}

const fails = (p: Promise<unknown>) => rejection(p, SafetensorsError);

describe('streamTensors', () => {
  it('decodes F32, F16 and BF16 exactly, in pieces of whole rows, skipping unwanted tensors', async () => {
    const { enc, values } = tensors(new Rng(3), {
      a: ['F32', [3, 5]], // 20-byte rows: one row per 12-byte piece
      skip1: ['F32', [9]],
      b: ['F16', [2, 4, 3]], // 6-byte rows: two rows per piece
      c: ['BF16', [7]], // one 14-byte row
      d: ['BF16', []], // a scalar
      skip2: ['F16', [5]],
    });
    const source = memSource({ 'config.json': config, 'model.safetensors': encodeSafetensors(enc) }, 7);
    const progress: LoadProgress[] = [];
    const names = ['d', 'b', 'a', 'c']; // not in offset order
    const { ckpt, got } = await load(source, names, { pieceBytes: 12, onProgress: (p) => progress.push(p) });
    for (const n of names) expect(got.get(n)!.out, n).toEqual(values[n]);
    expect(got.get('a')!.pieces).toEqual([5, 5, 5]);
    expect(got.get('b')!.pieces).toEqual([6, 6, 6, 6]);
    expect(got.get('c')!.pieces).toEqual([7]);

    // One read of the shard, from the first wanted byte to the last.
    const t = ckpt.tensors;
    expect(source.reads).toEqual([{ file: 'model.safetensors', start: t.get('a')!.begin, end: t.get('d')!.end, closed: true }]);
    const total = 60 + 48 + 14 + 2;
    expect(progress.length).toBe(3 + 4 + 1 + 1);
    expect(progress.at(-1)).toEqual({ loadedBytes: total, totalBytes: total, tensor: 'd', file: 'model.safetensors' });
    expect(progress.map((p) => p.tensor)).toEqual(['a', 'a', 'a', 'b', 'b', 'b', 'b', 'c', 'd']);
  });

  it('reads across a gap up to gapBytes, and starts another read past a longer one', async () => {
    const { enc, values } = tensors(new Rng(5), {
      a: ['F16', [3, 4]],
      gap: ['F32', [2, 5]], // 40 bytes not wanted (an expert cache's experts, say)
      b: ['BF16', [2, 3]],
      c: ['F32', [4]],
    });
    const bytes = encodeSafetensors(enc);
    for (const [gapBytes, reads] of [[40, [['a', 'c']]], [39, [['a', 'a'], ['b', 'c']]]] as const) {
      const source = memSource({ 'config.json': config, 'model.safetensors': bytes }, 7);
      const { ckpt, got } = await load(source, ['a', 'b', 'c'], { gapBytes, pieceBytes: 8 });
      for (const n of ['a', 'b', 'c']) expect(got.get(n)!.out, n).toEqual(values[n]);
      const t = ckpt.tensors;
      expect(source.reads, `gapBytes ${gapBytes}`).toEqual(
        reads.map(([first, last]) => ({ file: 'model.safetensors', start: t.get(first)!.begin, end: t.get(last)!.end, closed: true })),
      );
    }
  });

  it('random shapes, dtypes, chunk and piece sizes', async () => {
    const rng = new Rng(4);
    for (let trial = 0; trial < 30; trial++) {
      const specs: Record<string, [FloatDType, number[]]> = {};
      for (let i = 0; i < rng.int(1, 6); i++) {
        specs[`t${i}`] = [rng.pick(['F32', 'F16', 'BF16'] as const), Array.from({ length: rng.int(0, 3) }, () => rng.int(1, 9))];
      }
      const { enc, values } = tensors(rng, specs);
      const names = Object.keys(specs).filter(() => rng.next() < 0.7);
      const source = memSource({ 'config.json': config, 'model.safetensors': encodeSafetensors(enc) }, rng.int(1, 40));
      const pieceBytes = rng.int(1, 100);
      const { ckpt, got } = await load(source, names, { pieceBytes });
      for (const n of names) {
        expect(got.get(n)!.out, `trial ${trial} ${n}`).toEqual(values[n]);
        const info = ckpt.tensors.get(n)!;
        const row = (info.shape.at(-1) ?? 1) * (info.dtype === 'F32' ? 4 : 2);
        for (const p of got.get(n)!.pieces) expect(p * (info.dtype === 'F32' ? 4 : 2)).toBeLessThanOrEqual(Math.max(pieceBytes, row));
      }
      expect(source.reads.length).toBe(names.length ? 1 : 0);
    }
  });

  it('a sharded checkpoint: each shard read once', async () => {
    const rng = new Rng(5);
    const s1 = tensors(rng, { 'layers.0.w': ['F16', [4, 3]], 'layers.0.b': ['F32', [3]] });
    const s2 = tensors(rng, { 'layers.1.w': ['BF16', [2, 8]], 'layers.1.b': ['F32', [8]] });
    const index = { metadata: { total_size: 0 }, weight_map: {
      'layers.0.w': 'model-00001-of-00002.safetensors',
      'layers.0.b': 'model-00001-of-00002.safetensors',
      'layers.1.w': 'model-00002-of-00002.safetensors',
      'layers.1.b': 'model-00002-of-00002.safetensors',
    } };
    const source = memSource({
      'config.json': config,
      'model.safetensors.index.json': JSON.stringify(index),
      'model-00001-of-00002.safetensors': encodeSafetensors(s1.enc),
      'model-00002-of-00002.safetensors': encodeSafetensors(s2.enc),
    });
    const names = ['layers.1.b', 'layers.0.w', 'layers.1.w', 'layers.0.b'];
    const { ckpt, got } = await load(source, names, { pieceBytes: 16 });
    expect(ckpt.config).toEqual(JSON.parse(config));
    expect(ckpt.files.map((f) => f.file)).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    expect(ckpt.bytes).toBe(24 + 12 + 32 + 32);
    expect(ckpt.tensors.get('layers.1.w')!.file).toBe('model-00002-of-00002.safetensors');
    for (const n of names) expect(got.get(n)!.out, n).toEqual({ ...s1.values, ...s2.values }[n]);
    expect(source.reads.map((r) => r.file)).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
  });

  it('a name not in the checkpoint; a dtype no decoder reads arrives as it is stored', async () => {
    const f = encodeSafetensors(tensors(new Rng(6), { w: ['F32', [2]] }).enc);
    const ckpt = await openCheckpoint(memSource({ 'config.json': config, 'model.safetensors': f }));
    const sink: RowSink = () => {};
    expect((await fails(streamTensors(ckpt, new Map([['w', sink], ['nope', sink]])))).message)
      .toBe('mem:/model: tensor \'nope\': not in the checkpoint');

    const header = JSON.stringify({ i: { dtype: 'I32', shape: [2], data_offsets: [0, 8] } });
    const bytes = new Uint8Array(8 + header.length + 8);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
    bytes.set(new TextEncoder().encode(header), 8);
    bytes.set([1, 0, 0, 0, 254, 255, 255, 255], 8 + header.length);
    const ints = await openCheckpoint(memSource({ 'config.json': config, 'model.safetensors': bytes }));
    const got: RawRows[] = [];
    await streamTensors(ints, new Map([['i', (_: number, rows: RawRows) => void got.push(rows)]]));
    expect(got.map((r) => [r.dtype, [...new Int32Array(Uint8Array.from(r.bytes).buffer)]])).toEqual([['I32', [1, -2]]]);
    expect(() => decodeToF32(got[0].bytes, 'I32', 'model.safetensors: tensor \'i\''))
      .toThrow('model.safetensors: tensor \'i\': dtype I32 cannot be read (supported: F32, F16, BF16)');
  });

  it('abort between pieces rejects and closes the stream; so does a failing sink', async () => {
    const { enc } = tensors(new Rng(7), { w: ['F32', [64, 4]] });
    const source = memSource({ 'config.json': config, 'model.safetensors': encodeSafetensors(enc) });
    const ckpt = await openCheckpoint(source);
    source.reads.splice(0);
    const controller = new AbortController();
    let pieces = 0;
    const run = streamTensors(ckpt, new Map([['w', () => {}]]), {
      signal: controller.signal,
      pieceBytes: 16,
      onProgress: () => {
        if (++pieces === 3) controller.abort(new Error('stop'));
      },
    });
    await expect(run).rejects.toThrow('stop');
    expect(pieces).toBe(3);
    expect(source.reads[0].closed).toBe(true);

    const failing = streamTensors(ckpt, new Map([['w', async () => {
      throw new Error('sink broke');
    }]]));
    await expect(failing).rejects.toThrow('sink broke');
    expect(source.reads[1].closed).toBe(true);
  });
});

describe('readRows', () => {
  it('any range of rows of any tensor, from memory and a sharded model folder, equals the tensor\'s stored bytes', async () => {
    const rng = new Rng(9);
    const { enc } = tensors(rng, { experts: ['BF16', [4, 6, 5]], norm: ['F32', [5]], scalar: ['F16', []] });
    const mem = await openCheckpoint(memSource({ 'config.json': config, 'model.safetensors': encodeSafetensors(enc) }, 7));
    for (let i = 0; i < 20; i++) {
      const first = rng.int(0, 23);
      const rows = rng.int(0, 24 - first);
      const got = await readRows(mem, 'experts', first, rows);
      expect(got.dtype).toBe('BF16');
      expect(got.bytes).toEqual(enc.experts.data.subarray(first * 10, (first + rows) * 10));
    }
    // One expert of a stacked [E, 2I, H] tensor: rows e·2I … (e+1)·2I − 1.
    expect((await readRows(mem, 'experts', 2 * 6, 6)).bytes).toEqual(enc.experts.data.subarray(2 * 60, 3 * 60));
    expect((await readRows(mem, 'norm', 0, 1)).bytes).toEqual(enc.norm.data);
    expect((await readRows(mem, 'scalar', 0, 1)).bytes).toEqual(enc.scalar.data);

    const dir = await openCheckpoint(nodeDirSource('test/fixtures/models/mixtral'));
    const name = 'model.layers.1.block_sparse_moe.experts.5.w2.weight';
    const t = dir.tensors.get(name)!;
    expect(t.file).toBe('model-00002-of-00002.safetensors');
    const file = (await dir.source.open(t.file))!;
    const rowBytes = t.shape[1] * 4;
    expect((await readRows(dir, name, 3, 7)).bytes).toEqual(await readRange(file, t.begin + 3 * rowBytes, t.begin + 10 * rowBytes));
  });

  it('rows outside the tensor and a name not in the checkpoint are named errors', async () => {
    const { enc } = tensors(new Rng(10), { w: ['F32', [3, 4]] });
    const ckpt = await openCheckpoint(memSource({ 'config.json': config, 'model.safetensors': encodeSafetensors(enc) }));
    expect((await fails(readRows(ckpt, 'w', 2, 2))).message).toBe('model.safetensors: tensor \'w\': rows 2…3 are outside its 3 rows');
    expect((await fails(readRows(ckpt, 'w', -1, 1))).message).toMatch(/rows -1…-1 are outside its 3 rows/);
    expect((await fails(readRows(ckpt, 'v', 0, 1))).message).toBe('mem:/model: tensor \'v\': not in the checkpoint');
  });
});

describe('openCheckpoint errors', () => {
  const rng = new Rng(8);
  const shard = encodeSafetensors(tensors(rng, { a: ['F32', [2]], b: ['F32', [2]] }).enc);
  const open = (files: Record<string, Uint8Array | string>) => fails(openCheckpoint(memSource(files)));

  it('no config.json, bad config.json', async () => {
    expect((await open({ 'model.safetensors': shard })).message).toBe('mem:/model/config.json: not found');
    expect((await open({ 'config.json': '{"a":', 'model.safetensors': shard })).message)
      .toMatch(/^mem:\/model\/config\.json: not valid JSON/);
    expect((await open({ 'config.json': '3', 'model.safetensors': shard })).message).toBe('mem:/model/config.json: not a JSON object');
  });

  it('no weights', async () => {
    expect((await open({ 'config.json': config })).message)
      .toBe('mem:/model/model.safetensors: not found (nor model.safetensors.index.json)');
  });

  it('an index naming a missing shard, a tensor missing from its shard, a tensor in two shards', async () => {
    const index = (map: Record<string, string>) => JSON.stringify({ weight_map: map });
    expect((await open({ 'config.json': config, 'model.safetensors.index.json': index({ a: 's1', b: 's2' }), s1: shard })).message)
      .toBe('mem:/model/s2: named by model.safetensors.index.json, not found');

    const err = await open({ 'config.json': config, 'model.safetensors.index.json': index({ a: 's1', c: 's1' }), s1: shard });
    expect(err).toMatchObject({ file: 's1', tensor: 'c' });
    expect(err.message).toBe('s1: tensor \'c\': named by model.safetensors.index.json but not in this shard');

    expect((await open({ 'config.json': config, 'model.safetensors.index.json': index({ a: 's1', b: 's2' }), s1: shard, s2: shard })).message)
      .toBe('mem:/model: tensor \'a\': in two shards: s1 and s2');
    expect((await open({ 'config.json': config, 'model.safetensors.index.json': '{"weight_map": [1]}' })).message)
      .toBe('mem:/model/model.safetensors.index.json: weight_map must map tensor names to file names, got [1]');
  });

  it('an index without a weight_map, with an empty one, or with a key twice', async () => {
    const withIndex = (text: string) => open({ 'config.json': config, 'model.safetensors.index.json': text, s1: shard });
    expect((await withIndex('{"metadata": {}}')).message)
      .toBe('mem:/model/model.safetensors.index.json: weight_map must map tensor names to file names, got undefined');
    expect((await withIndex('{"weight_map": {}}')).message).toBe('mem:/model/model.safetensors.index.json: weight_map is empty');
    expect((await withIndex('{"weight_map": {"a": "s1", "b": "s1", "a": "s1"}}')).message)
      .toBe('mem:/model/model.safetensors.index.json: has the key \'a\' twice');
    expect((await open({ 'config.json': '{"a": 1, "a": 2}', 'model.safetensors': shard })).message)
      .toBe('mem:/model/config.json: has the key \'a\' twice');
  });

  it('a shard name that would leave the model folder is refused before anything is opened', async () => {
    for (const name of ['../s1', '..', '.', '/etc/s1', 'sub/s1', 'sub\\s1', 'C:s1', '%2e%2e%2fs1', 's1?x', 's1#x', ' s1', '']) {
      const files = { 'config.json': config, 'model.safetensors.index.json': JSON.stringify({ weight_map: { a: 's1', b: name } }), s1: shard };
      const source = memSource(files);
      const err = await fails(openCheckpoint(source));
      expect(err.message).toBe(`mem:/model/model.safetensors.index.json: tensor 'b': the shard ${JSON.stringify(name)} is not a file name in the model folder`);
      expect(source.reads).toEqual([]);
    }
  });

  it('a tensor in a shard that the index does not name', async () => {
    const err = await open({ 'config.json': config, 'model.safetensors.index.json': JSON.stringify({ weight_map: { a: 's1' } }), s1: shard });
    expect(err).toMatchObject({ file: 's1', tensor: 'b' });
    expect(err.message).toBe('s1: tensor \'b\': in this shard but not in the weight_map of model.safetensors.index.json');
  });

  it('a bad shard header names the shard', async () => {
    const err = await open({ 'config.json': config, 'model.safetensors': new Uint8Array(3) });
    expect(err.message).toBe('model.safetensors: 3 bytes is too short for a safetensors file (at least 8)');
  });
});

describe('nodeDirSource', () => {
  const dir = mkdtempSync(join(tmpdir(), 'webmoe-io-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads a checkpoint from a directory, the same as from memory', async () => {
    const { enc, values } = tensors(new Rng(9), { w: ['BF16', [5, 6]], v: ['F16', [11]] });
    const bytes = encodeSafetensors(enc);
    writeFileSync(join(dir, 'config.json'), config);
    writeFileSync(join(dir, 'model.safetensors'), bytes);
    const source = nodeDirSource(dir);
    expect(source.name).toBe(dir);
    const { got } = await load(source, ['v', 'w'], { pieceBytes: 24 });
    expect(got.get('w')!.out).toEqual(values.w);
    expect(got.get('v')!.out).toEqual(values.v);

    expect(await source.open('missing.safetensors')).toBeUndefined();
    expect(await source.text('missing.json')).toBeUndefined();
    const f = await nodeFile(join(dir, 'model.safetensors'));
    expect(f.size).toBe(bytes.length);
    expect([...(await readSafetensorsHeader('m', f)).tensors.keys()]).toEqual(['w', 'v']);
  });

  it('abort between pieces of a file', async () => {
    writeFileSync(join(dir, 'big.bin'), new Uint8Array(9 * 1024 * 1024 + 5)); // two 8 MiB pieces
    const f = (await nodeDirSource(dir).open('big.bin'))!;
    const controller = new AbortController();
    const got: number[] = [];
    const read = (async () => {
      for await (const piece of f.stream(3, f.size, controller.signal)) {
        got.push(piece.length);
        controller.abort(new Error('stopped'));
      }
    })();
    await expect(read).rejects.toThrow('stopped');
    expect(got).toEqual([8 * 1024 * 1024]);
  });
});
