// The safetensors format: an 8-byte little-endian header length, a JSON header naming each tensor's
// dtype, shape and data_offsets (relative to the end of the header), then the raw little-endian data.
import { DTYPE_BYTES } from './dtype.js';
import { SafetensorsError } from './error.js';
import { duplicateKey } from './json.js';
import { type ModelFile, readRange } from './source.js';

export { SafetensorsError };

/** The Rust crate's limit too: a longer header is a corrupt length, not a real header. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface TensorInfo {
  name: string;
  file: string;
  dtype: string;
  shape: number[];
  /** Absolute byte offsets within the file: [begin, end). */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  file: string;
  size: number;
  /** Where the data section starts: 8 + header length. */
  dataStart: number;
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const product = (xs: number[]) => xs.reduce((a, b) => a * b, 1);

/**
 * Reads and checks the header of the safetensors file `file` (the name is for messages and TensorInfo),
 * as strictly as the format's reference reader: UTF-8 JSON, every tensor's bytes = shape × dtype size,
 * offsets contiguous from 0 with neither hole nor overlap, and the last one the end of the file (so a
 * header length a few bytes short, which would shift every tensor, is refused).
 */
export async function readSafetensorsHeader(file: string, f: ModelFile, signal?: AbortSignal): Promise<SafetensorsHeader> {
  const fail = (message: string, tensor?: string) => new SafetensorsError(file, message, tensor);
  if (f.size < 8) throw fail(`${f.size} bytes is too short for a safetensors file (at least 8)`);
  const first = await readRange(f, 0, 8, signal);
  // A host's HTML page for a missing file (its length bytes would read as a header of petabytes).
  if (/^\s*<[!a-z]/i.test(String.fromCharCode(...first))) throw fail('is an HTML page, not a safetensors file');
  const length = new DataView(first.buffer, first.byteOffset).getBigUint64(0, true);
  if (length > BigInt(MAX_HEADER_BYTES)) throw fail(`header length ${length} is over the limit of ${MAX_HEADER_BYTES} bytes`);
  const dataStart = 8 + Number(length);
  if (dataStart > f.size) throw fail(`header length ${length} goes beyond the file (${f.size} bytes)`);

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(await readRange(f, 8, dataStart, signal));
  } catch (e) {
    if (e instanceof TypeError) throw fail('the header is not valid UTF-8');
    throw e;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw fail(`the header is not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(json)) throw fail('the header is not a JSON object');
  const twice = duplicateKey(text);
  if (twice !== undefined) throw fail(`the header has the key '${twice}' twice`);

  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isObject(entry) || !Object.values(entry).every((v) => typeof v === 'string')) {
        throw fail('__metadata__ must map strings to strings');
      }
      metadata = entry as Record<string, string>;
      continue;
    }
    if (!isObject(entry)) throw fail('entry is not an object', name);
    const { dtype, shape, data_offsets: offsets } = entry;
    if (typeof dtype !== 'string') throw fail(`dtype must be a string, got ${JSON.stringify(dtype)}`, name);
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      throw fail(`shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`, name);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
      throw fail(`data_offsets must be [begin, end] with 0 ≤ begin ≤ end, got ${JSON.stringify(offsets)}`, name);
    }
    const size = Object.hasOwn(DTYPE_BYTES, dtype) ? DTYPE_BYTES[dtype] : undefined; // not 'toString'
    if (size === undefined) throw fail(`unknown dtype ${dtype}`, name);
    const expected = product(shape) * size;
    if (!Number.isSafeInteger(expected)) throw fail(`${dtype} [${shape.join(', ')}] is too large a tensor`, name);
    const [begin, end] = [dataStart + offsets[0], dataStart + offsets[1]];
    if (end - begin !== expected) {
      throw fail(`${dtype} [${shape.join(', ')}] needs ${expected} bytes, data_offsets [${offsets.join(', ')}] hold ${end - begin}`, name);
    }
    tensors.set(name, { name, file, dtype, shape, begin, end });
  }

  // As the reference reader: in offset order, each tensor starts where the one before ends.
  const byOffset = [...tensors.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = dataStart;
  let previous: TensorInfo | undefined;
  for (const t of byOffset) {
    if (t.begin !== at) {
      const after = previous ? `tensor '${previous.name}' ends` : 'the data section starts';
      const gap = t.begin > at ? `a hole of ${t.begin - at} bytes` : `an overlap of ${at - t.begin} bytes`;
      throw fail(`data_offsets start at ${t.begin - dataStart}, expected ${at - dataStart} (where ${after}): ${gap}`, t.name);
    }
    [at, previous] = [t.end, t];
  }
  if (at > f.size) throw fail(`data ends at byte ${at}, beyond the end of the file (${f.size} bytes)`, previous?.name);
  if (at < f.size) {
    throw fail(`the data ends at byte ${at}, the file at byte ${f.size}: ${f.size - at} bytes after the data (a wrong header length?)`);
  }
  return { file, size: f.size, dataStart, tensors, metadata };
}

export interface EncodeTensor {
  dtype: 'F32' | 'F16' | 'BF16';
  shape: number[];
  /** Little-endian element bytes. */
  data: Uint8Array;
}

/** A safetensors file holding the tensors in the given order (header padded with spaces to 8 bytes). */
export function encodeSafetensors(tensors: Record<string, EncodeTensor>, metadata?: Record<string, string>): Uint8Array<ArrayBuffer> {
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  let offset = 0;
  for (const [name, { dtype, shape, data }] of Object.entries(tensors)) {
    const expected = product(shape) * DTYPE_BYTES[dtype];
    if (data.length !== expected) {
      throw new Error(`encodeSafetensors: tensor '${name}' ${dtype} [${shape.join(', ')}] needs ${expected} bytes, got ${data.length}`);
    }
    header[name] = { dtype, shape, data_offsets: [offset, offset + data.length] };
    offset += data.length;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded > json.length) {
    const spaces = new Uint8Array(padded).fill(0x20);
    spaces.set(json);
    json = spaces;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const { data } of Object.values(tensors)) {
    out.set(data, at);
    at += data.length;
  }
  return out;
}
