// Seeded random mutations of a real fixture's safetensors headers, index and config: each must end in
// a named error (SafetensorsError or SourceError, naming the file) or in a load whose every tensor is
// where the format says, never in a crash, a hang or a raw TypeError / RangeError.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Checkpoint, openCheckpoint, streamTensors } from '../../src/io/checkpoint.js';
import { DTYPE_BYTES } from '../../src/io/dtype.js';
import { SourceError } from '../../src/io/error.js';
import { nodeDirSource } from '../../src/io/nodeSource.js';
import { SafetensorsError } from '../../src/io/safetensors.js';
import { Rng } from '../ref/rng.js';
import { memSource } from './mem.js';

const MODELS = 'test/fixtures/models';
const dir = join(MODELS, 'mixtral'); // sharded: two shards and an index
const INDEX = 'model.safetensors.index.json';
const SHARDS = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
const original: Record<string, Uint8Array | string> = {
  'config.json': readFileSync(join(dir, 'config.json'), 'utf8'),
  [INDEX]: readFileSync(join(dir, INDEX), 'utf8'),
  ...Object.fromEntries(SHARDS.map((s) => [s, new Uint8Array(readFileSync(join(dir, s)))])),
};

const headerOf = (bytes: Uint8Array) => {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { length, json: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) as Record<string, any> };
};

/** A shard with the header text `text` (its length field `length`, by default the text's) and the original data. */
function withHeader(bytes: Uint8Array, text: string, length?: number): Uint8Array {
  const json = new TextEncoder().encode(text);
  const data = bytes.subarray(8 + headerOf(bytes).length);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(length ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const hostileNumbers = [-1, 0, 1, 2.5, 2 ** 53, 1e300, -0, NaN];

/** One random mutation of the files; returns a description for failure messages. */
function mutate(rng: Rng, files: Record<string, Uint8Array | string>): string {
  const shard = rng.pick(SHARDS);
  const bytes = files[shard] as Uint8Array;
  const { length, json } = headerOf(bytes);
  const names = Object.keys(json).filter((k) => k !== '__metadata__');
  const t = rng.pick(names);
  const kind = rng.int(0, 13);
  switch (kind) {
    case 0: { // flip bytes of the length or the header
      const out = bytes.slice();
      // Mostly printable bytes, which keep the header UTF-8 and reach the JSON and field checks.
      for (let n = rng.int(1, 4); n > 0; n--) out[rng.int(0, 8 + length - 1)] = rng.next() < 0.7 ? rng.int(0x20, 0x7e) : rng.int(0, 255);
      files[shard] = out;
      return `${shard}: bytes flipped`;
    }
    case 1: { // truncate anywhere
      files[shard] = bytes.slice(0, rng.int(0, bytes.length - 1));
      return `${shard}: truncated`;
    }
    case 2: { // the length field off by a little
      const out = bytes.slice();
      new DataView(out.buffer).setBigUint64(0, BigInt(Math.max(0, length + rng.int(-9, 9))), true);
      files[shard] = out;
      return `${shard}: length ${length} changed`;
    }
    case 3: { // an offset moved
      const i = rng.int(0, 1);
      json[t].data_offsets[i] += rng.pick([-8, -2, -1, 1, 2, 8]);
      break;
    }
    case 4: // a dtype changed (to another real one, or none)
      json[t].dtype = rng.pick([...Object.keys(DTYPE_BYTES), 'F7', 'f32', '', 'toString', 3, null]);
      break;
    case 5: { // a shape changed
      const shape = json[t].shape as unknown[];
      if (shape.length && rng.next() < 0.7) shape[rng.int(0, shape.length - 1)] = rng.pick(hostileNumbers);
      else shape.push(rng.pick([1, 2, 0]));
      break;
    }
    case 6: { // a tensor written twice (the JSON text has its key twice)
      const text = JSON.stringify(json);
      files[shard] = withHeader(bytes, `${text.slice(0, -1)},${JSON.stringify(t)}:${JSON.stringify(json[t])}}`);
      return `${shard}: '${t}' twice`;
    }
    case 7: // a tensor dropped
      delete json[t];
      break;
    case 8: // metadata not string → string
      json.__metadata__ = rng.pick([{ format: 1 }, ['pt'], 'pt', null, { a: { b: 'c' } }]);
      break;
    case 9: { // relabelled to another dtype, its offsets fitted to it (a hole or an overlap after it)
      const size = DTYPE_BYTES[rng.pick(['F16', 'F32', 'U8', 'F64'])];
      const [begin] = json[t].data_offsets;
      json[t].dtype = Object.keys(DTYPE_BYTES).find((d) => DTYPE_BYTES[d] === size);
      json[t].data_offsets = [begin, begin + (json[t].shape as number[]).reduce((a, b) => a * b, 1) * size];
      break;
    }
    case 10: { // the index's weight_map: an entry dropped, added, sent elsewhere, or emptied
      const index = JSON.parse(files[INDEX] as string);
      const map = index.weight_map as Record<string, string>;
      const key = rng.pick(Object.keys(map));
      const change = rng.int(0, 3);
      if (change === 0) delete map[key];
      else if (change === 1) map['extra.weight'] = rng.pick(SHARDS);
      else if (change === 2) map[key] = rng.pick(['../' + SHARDS[0], '/etc/passwd', 'sub/x', '..%2fx', 'C:\\x', 'missing.safetensors', SHARDS[0], SHARDS[1]]);
      else index.weight_map = rng.pick([{}, [], null, 'x']);
      files[INDEX] = JSON.stringify(index);
      return `${INDEX}: weight_map changed`;
    }
    case 11: { // bytes of the index or the config flipped
      const file = rng.pick([INDEX, 'config.json']);
      const text = [...(files[file] as string)];
      for (let n = rng.int(1, 3); n > 0; n--) text[rng.int(0, text.length - 1)] = String.fromCharCode(rng.int(0, 127));
      files[file] = text.join('');
      return `${file}: characters changed`;
    }
    case 12: // a tensor's entry replaced by something else
      json[t] = rng.pick([null, 3, 'x', [], { dtype: 'F32' }, { dtype: 'F32', shape: [1], data_offsets: [0] }]);
      break;
    default: { // invalid UTF-8 in a name
      const out = bytes.slice();
      const at = 8 + new TextDecoder().decode(bytes.subarray(8, 8 + length)).indexOf(JSON.stringify(t)) + 1;
      out[at] = rng.pick([0xff, 0xc0, 0x80, 0xfe]);
      files[shard] = out;
      return `${shard}: '${t}' not UTF-8`;
    }
  }
  // A JSON edit: written back with its own length, or (sometimes) with the old one.
  const text = JSON.stringify(json);
  files[shard] = withHeader(bytes, text.padEnd(Math.ceil(text.length / 8) * 8), rng.next() < 0.2 ? length : undefined);
  return `${shard}: ${['', '', '', 'offset', 'dtype', 'shape', '', 'dropped', 'metadata', 'relabelled', '', '', 'entry'][kind]} of '${t}' changed`;
}

describe('fuzz: mutated checkpoints', () => {
  it('every committed fixture opens', async () => {
    for (const name of readdirSync(MODELS)) {
      const ckpt = await openCheckpoint(nodeDirSource(join(MODELS, name)));
      expect(ckpt.tensors.size, name).toBeGreaterThan(0);
    }
  });

  it('400 seeded mutations: a named error naming the file, or a load where every tensor is', async () => {
    const rng = new Rng(21);
    const outcomes = { loaded: 0, refused: 0 };
    for (let i = 0; i < 400; i++) {
      const files = { ...original };
      const what = mutate(rng, files);
      const source = memSource(files, 1 << 16);
      let ckpt: Checkpoint;
      try {
        ckpt = await openCheckpoint(source);
        await streamTensors(ckpt, new Map([...ckpt.tensors.keys()].map((n) => [n, () => {}])));
      } catch (e) {
        const named = e instanceof SafetensorsError || e instanceof SourceError;
        expect(named, `${i} ${what}: ${(e as Error)?.stack}`).toBe(true);
        expect((e as SafetensorsError).message, `${i} ${what}`).toMatch(/config\.json|\.safetensors/);
        outcomes.refused++;
        continue;
      }
      // A load: each file's tensors tile its data section.
      for (const h of ckpt.files) {
        let at = h.dataStart;
        for (const t of [...h.tensors.values()].sort((a, b) => a.begin - b.begin)) {
          expect(t.begin, `${i} ${what}`).toBe(at);
          expect(t.end - t.begin, `${i} ${what}`).toBe(t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype]);
          at = t.end;
        }
        expect(at, `${i} ${what}`).toBe(h.size);
      }
      outcomes.loaded++;
    }
    // Both outcomes occur: the mutations are neither all harmless nor all fatal.
    expect(outcomes.loaded).toBeGreaterThan(0);
    expect(outcomes.refused).toBeGreaterThan(300);
  });
});
