import { describe, expect, it } from 'vitest';
import { f16BitsToF32 } from '../../src/gpu/f16.js';
import { decodeToF32 } from '../../src/io/dtype.js';
import { encodeSafetensors, MAX_HEADER_BYTES, readSafetensorsHeader, SafetensorsError } from '../../src/io/safetensors.js';
import type { ModelFile } from '../../src/io/source.js';
import { Rng } from '../ref/rng.js';
import { floatTensor, memSource } from './mem.js';

/** A file with the given header length field, header text and data size. */
function craft(header: string | object, dataBytes = 0, length?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, length ?? BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

async function fileOf(bytes: Uint8Array): Promise<ModelFile> {
  return (await memSource({ f: bytes }).open('f'))!;
}

async function headerError(bytes: Uint8Array): Promise<SafetensorsError> {
  const err = await readSafetensorsHeader('bad.safetensors', await fileOf(bytes)).catch((e) => e);
  expect(err).toBeInstanceOf(SafetensorsError);
  expect(err.file).toBe('bad.safetensors');
  expect(err.message).toMatch(/^bad\.safetensors: /);
  return err;
}

describe('safetensors header', () => {
  it('encode → read: offsets, shapes, metadata, padding', async () => {
    const rng = new Rng(1);
    const a = floatTensor(rng, 'F32', [3, 5]);
    const b = floatTensor(rng, 'F16', [7]);
    const c = floatTensor(rng, 'BF16', []);
    const bytes = encodeSafetensors({ a: a.tensor, b: b.tensor, c: c.tensor }, { format: 'pt' });
    const length = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(length % 8).toBe(0);
    expect(new TextDecoder().decode(bytes.subarray(8, 8 + length))).toMatch(/^\{.*\} *$/);

    const h = await readSafetensorsHeader('m.safetensors', await fileOf(bytes));
    expect(h).toMatchObject({ file: 'm.safetensors', size: bytes.length, dataStart: 8 + length, metadata: { format: 'pt' } });
    expect(h.tensors.get('a')).toEqual({ name: 'a', file: 'm.safetensors', dtype: 'F32', shape: [3, 5], begin: 8 + length, end: 8 + length + 60 });
    expect(h.tensors.get('b')).toMatchObject({ dtype: 'F16', shape: [7], begin: 8 + length + 60, end: 8 + length + 74 });
    expect(h.tensors.get('c')).toMatchObject({ dtype: 'BF16', shape: [], end: bytes.length });
    for (const [name, t] of [['a', a], ['b', b], ['c', c]] as const) {
      const info = h.tensors.get(name)!;
      expect(decodeToF32(bytes.subarray(info.begin, info.end), info.dtype, name)).toEqual(t.values);
    }
  });

  it('accepts every safetensors dtype in the header, and zero-size tensors', async () => {
    const h = await readSafetensorsHeader('f', await fileOf(craft({
      i: { dtype: 'I64', shape: [2], data_offsets: [0, 16] },
      u: { dtype: 'U8', shape: [3], data_offsets: [16, 19] },
      f8: { dtype: 'F8_E4M3', shape: [1], data_offsets: [19, 20] },
      z: { dtype: 'F32', shape: [0, 4], data_offsets: [20, 20] },
    }, 20)));
    expect([...h.tensors.keys()]).toEqual(['i', 'u', 'f8', 'z']);
  });

  it('file shorter than 8 bytes', async () => {
    expect((await headerError(new Uint8Array(5))).message).toContain('5 bytes is too short');
  });

  it('header length beyond the file', async () => {
    const err = await headerError(craft('{}', 10, 1000n));
    expect(err.message).toContain('header length 1000 goes beyond the file (20 bytes)');
  });

  it('header length over 100 MB (only the 8 length bytes exist)', async () => {
    const err = await headerError(craft('', 0, BigInt(MAX_HEADER_BYTES + 1)));
    expect(err.message).toContain(`header length ${MAX_HEADER_BYTES + 1} is over the limit of ${MAX_HEADER_BYTES} bytes`);
    expect((await headerError(craft('', 0, 2n ** 63n))).message).toContain(`header length ${2n ** 63n}`);
  });

  it('bad JSON, or JSON that is not an object', async () => {
    expect((await headerError(craft('{"a": '))).message).toContain('the header is not valid JSON');
    expect((await headerError(craft('[1, 2]'))).message).toContain('the header is not a JSON object');
  });

  it('entries with missing or mistyped fields name the tensor', async () => {
    const cases: [object, RegExp][] = [
      [{ w: 3 }, /entry is not an object/],
      [{ w: { shape: [2], data_offsets: [0, 8] } }, /dtype must be a string, got undefined/],
      [{ w: { dtype: 'F32', shape: '2', data_offsets: [0, 8] } }, /shape must be a list of non-negative integers, got "2"/],
      [{ w: { dtype: 'F32', shape: [2, -1], data_offsets: [0, 8] } }, /shape must be .* got \[2,-1\]/],
      [{ w: { dtype: 'F32', shape: [2] } }, /data_offsets must be \[begin, end\] .* got undefined/],
      [{ w: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, /data_offsets .* got \[8,0\]/],
      [{ w: { dtype: 'F32', shape: [2], data_offsets: [0, 1.5] } }, /data_offsets .* got \[0,1.5\]/],
    ];
    for (const [header, message] of cases) {
      const err = await headerError(craft(header, 8));
      expect(err.tensor).toBe('w');
      expect(err.message).toContain('tensor \'w\': ');
      expect(err.message).toMatch(message);
    }
    expect((await headerError(craft({ __metadata__: { a: 1 } }))).message).toContain('__metadata__ must map strings to strings');
  });

  it('unknown dtype', async () => {
    const err = await headerError(craft({ w: { dtype: 'F7', shape: [2], data_offsets: [0, 2] } }, 2));
    expect(err.message).toBe('bad.safetensors: tensor \'w\': unknown dtype F7');
  });

  it('byte size mismatch gives both sizes', async () => {
    const err = await headerError(craft({ w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 20] } }, 24));
    expect(err.message).toBe('bad.safetensors: tensor \'w\': F32 [2, 3] needs 24 bytes, data_offsets [0, 20] hold 20');
  });

  it('data beyond the end of the file', async () => {
    const bytes = craft({ w: { dtype: 'F32', shape: [6], data_offsets: [0, 24] } }, 16);
    const err = await headerError(bytes);
    expect(err.tensor).toBe('w');
    expect(err.message).toContain(`data ends at byte ${bytes.length + 8}, beyond the end of the file (${bytes.length} bytes)`);
  });

  it('overlapping tensors name both', async () => {
    const err = await headerError(craft({
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    }, 12));
    expect(err.message).toBe('bad.safetensors: tensor \'b\': data_offsets start at 4, expected 8 (where tensor \'a\' ends): an overlap of 4 bytes');
  });

  it('what the reference reader refuses: holes, trailing bytes, data not from 0, a header length short of its padding', async () => {
    const f32 = (begin: number, n: number) => ({ dtype: 'F32', shape: [n], data_offsets: [begin, begin + 4 * n] });
    const cases: [object, number, string][] = [
      [{ a: f32(0, 2), b: f32(12, 1) }, 16, 'tensor \'b\': data_offsets start at 12, expected 8 (where tensor \'a\' ends): a hole of 4 bytes'],
      [{ a: f32(4, 2) }, 12, 'tensor \'a\': data_offsets start at 4, expected 0 (where the data section starts): a hole of 4 bytes'],
      [{ a: f32(0, 2) }, 11, 'the data ends at byte 8+, the file at byte 11+: 3 bytes after the data (a wrong header length?)'],
      // A zero-size tensor inside another is an overlap, as in the reference reader.
      [{ a: f32(0, 2), z: { dtype: 'F32', shape: [0], data_offsets: [4, 4] } }, 8,
        'tensor \'z\': data_offsets start at 4, expected 8 (where tensor \'a\' ends): an overlap of 4 bytes'],
      // Relabelled from F32 to F16 with its end kept: the sizes disagree; with its end moved: a hole.
      [{ a: { dtype: 'F16', shape: [2], data_offsets: [0, 8] } }, 8, 'tensor \'a\': F16 [2] needs 4 bytes, data_offsets [0, 8] hold 8'],
      [{ a: { dtype: 'F16', shape: [2], data_offsets: [0, 4] }, b: f32(8, 1) }, 12, 'tensor \'b\': data_offsets start at 8, expected 4'],
      [{ a: { dtype: 'F32', shape: [2 ** 40, 2 ** 20], data_offsets: [0, 0] } }, 0, 'tensor \'a\': F32 [1099511627776, 1048576] is too large a tensor'],
    ];
    for (const [header, data, message] of cases) {
      const bytes = craft(header, data);
      const headerEnd = bytes.length - data;
      const err = await headerError(bytes);
      expect(err.message).toContain(message.replace('byte 8+', `byte ${headerEnd + 8}`).replace('byte 11+', `byte ${headerEnd + 11}`));
    }

    // A header length 4 bytes short, the cut in the padding: the JSON still parses, every tensor would be shifted.
    const padded = `${JSON.stringify({ w: f32(0, 1) })}        `;
    expect((await readSafetensorsHeader('f', await fileOf(craft(padded, 4)))).tensors.get('w')).toMatchObject({ shape: [1] });
    const short = craft(padded, 4, BigInt(padded.length - 4));
    expect((await headerError(short)).message).toContain('4 bytes after the data (a wrong header length?)');
  });

  it('invalid UTF-8, a key twice (tensor or field), non-string metadata', async () => {
    const raw = craft('{"w?": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}}', 4);
    raw[10] = 0xff;
    expect((await headerError(raw)).message).toBe('bad.safetensors: the header is not valid UTF-8');

    const entry = '{"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}';
    expect((await headerError(craft(`{"w": ${entry}, "w": ${entry}}`, 4))).message).toBe('bad.safetensors: the header has the key \'w\' twice');
    expect((await headerError(craft(`{"w": {"dtype": "F32", "dtype": "F16", "shape": [1], "data_offsets": [0, 4]}}`, 4))).message)
      .toBe('bad.safetensors: the header has the key \'dtype\' twice');
    // Escapes spell the same key; a key-like string as a value is no key.
    expect((await headerError(craft(`{"w": ${entry}, "\\u0077": ${entry}}`, 4))).message).toContain('the key \'w\' twice');
    const h = await readSafetensorsHeader('f', await fileOf(craft(`{"__metadata__": {"a": "w", "b": "w"}, "w": ${entry}}`, 4)));
    expect(h.metadata).toEqual({ a: 'w', b: 'w' });

    for (const metadata of ['[]', '"x"', '{"a": 1}', '{"a": null}', '{"a": ["b"]}']) {
      expect((await headerError(craft(`{"__metadata__": ${metadata}}`))).message).toBe('bad.safetensors: __metadata__ must map strings to strings');
    }
  });

  it('negative, fractional or huge shapes; unknown dtypes of every spelling', async () => {
    for (const shape of [[-1], [1.5], [2 ** 53], ['2'], [null]]) {
      const err = await headerError(craft({ w: { dtype: 'F32', shape, data_offsets: [0, 4] } }, 4));
      expect(err.message).toContain(`shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    for (const dtype of ['f32', 'float32', 'F4', '', 'toString', '__proto__']) {
      const err = await headerError(craft({ w: { dtype, shape: [1], data_offsets: [0, 4] } }, 4));
      expect(err.message).toBe(`bad.safetensors: tensor 'w': unknown dtype ${dtype}`);
    }
  });

  it('encode checks data sizes', () => {
    expect(() => encodeSafetensors({ w: { dtype: 'F16', shape: [3], data: new Uint8Array(4) } }))
      .toThrow('tensor \'w\' F16 [3] needs 6 bytes, got 4');
  });
});

describe('decodeToF32', () => {
  it('every f16 value, at any byte offset', () => {
    const bits = Uint16Array.from({ length: 0x10000 }, (_, i) => i);
    const bytes = new Uint8Array(bits.length * 2 + 1);
    bytes.set(new Uint8Array(bits.buffer), 1);
    const out = decodeToF32(bytes.subarray(1), 'F16', 'x');
    const wrong = [...bits].filter((h) => !Object.is(out[h], f16BitsToF32(h)) && !(isNaN(out[h]) && isNaN(f16BitsToF32(h))));
    expect(wrong).toEqual([]);
  });

  it('f32 and bf16 at an odd byte offset', () => {
    const rng = new Rng(2);
    for (const dtype of ['F32', 'BF16'] as const) {
      const { tensor, values } = floatTensor(rng, dtype, [33]);
      const bytes = new Uint8Array(tensor.data.length + 3);
      bytes.set(tensor.data, 3);
      const out = decodeToF32(bytes.subarray(3), dtype, 'x');
      expect(out).toEqual(values);
      expect(out.buffer).not.toBe(bytes.buffer);
    }
  });

  it('other dtypes and partial elements are errors naming the place', () => {
    expect(() => decodeToF32(new Uint8Array(8), 'I32', 'f: tensor \'w\''))
      .toThrow('f: tensor \'w\': dtype I32 cannot be read (supported: F32, F16, BF16)');
    expect(() => decodeToF32(new Uint8Array(6), 'F32', 'w')).toThrow('w: 6 bytes is not a whole number of F32 elements');
  });
});
