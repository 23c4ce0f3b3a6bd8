// A Hugging Face checkpoint: config.json plus one safetensors file or shards named by
// model.safetensors.index.json; streaming its tensors in pieces of whole rows, as they are stored
// (their own dtype and bytes: decoding, if any, is the consumer's), and reading any range of rows.
import { DTYPE_BYTES } from './dtype.js';
import { duplicateKey } from './json.js';
import { readSafetensorsHeader, SafetensorsError, type SafetensorsHeader, type TensorInfo } from './safetensors.js';
import { type ModelFile, type ModelSource, readRange } from './source.js';

export interface Checkpoint {
  source: ModelSource;
  /** Parsed config.json. */
  config: Record<string, unknown>;
  files: SafetensorsHeader[];
  /** All tensors of all shards. */
  tensors: Map<string, TensorInfo>;
  /** Total tensor bytes. */
  bytes: number;
}

const INDEX = 'model.safetensors.index.json';
const SINGLE = 'model.safetensors';

/** `source/file`, for messages. */
const pathOf = (source: ModelSource, file: string) => `${source.name.replace(/\/+$/, '')}/${file}`;

async function readJson(source: ModelSource, file: string, signal?: AbortSignal): Promise<Record<string, unknown> | undefined> {
  const text = await source.text(file, signal);
  if (text === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(pathOf(source, file), `not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new SafetensorsError(pathOf(source, file), 'not a JSON object');
  }
  const twice = duplicateKey(text);
  if (twice !== undefined) throw new SafetensorsError(pathOf(source, file), `has the key '${twice}' twice`);
  return json as Record<string, unknown>;
}

/**
 * A shard name is a file of the model folder itself: nothing that could lead elsewhere on a disk or a
 * server (a separator, a drive or scheme, '.' or '..', URL escapes, a query or fragment).
 */
const isShardName = (name: string) => name !== '.' && name !== '..' && !/[/\\:%?#\0]/.test(name) && name.trim() === name && name !== '';

/** The shard of each tensor, from the index's weight_map. */
function weightMap(source: ModelSource, index: Record<string, unknown>): Map<string, string> {
  const fail = (message: string, tensor?: string) => new SafetensorsError(pathOf(source, INDEX), message, tensor);
  const map = index.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw fail(`weight_map must map tensor names to file names, got ${JSON.stringify(map)}`);
  }
  const entries = Object.entries(map as Record<string, unknown>);
  if (!entries.length) throw fail('weight_map is empty');
  for (const [tensor, file] of entries) {
    if (typeof file !== 'string') throw fail(`the shard must be a file name, got ${JSON.stringify(file)}`, tensor);
    if (!isShardName(file)) throw fail(`the shard ${JSON.stringify(file)} is not a file name in the model folder`, tensor);
  }
  return new Map(entries as [string, string][]);
}

/** Reads config.json and every safetensors header, and checks that the shards agree with the index. */
export async function openCheckpoint(source: ModelSource, signal?: AbortSignal): Promise<Checkpoint> {
  const config = await readJson(source, 'config.json', signal);
  if (!config) throw new SafetensorsError(pathOf(source, 'config.json'), 'not found');

  const index = await readJson(source, INDEX, signal);
  const shardOf = index && weightMap(source, index);
  const names = shardOf ? [...new Set(shardOf.values())] : [SINGLE];
  const files: SafetensorsHeader[] = [];
  for (const name of names) {
    const f = await source.open(name, signal);
    if (!f) {
      throw new SafetensorsError(pathOf(source, name), shardOf ? `named by ${INDEX}, not found` : `not found (nor ${INDEX})`);
    }
    files.push(await readSafetensorsHeader(name, f, signal));
  }

  const tensors = new Map<string, TensorInfo>();
  for (const header of files) {
    for (const [name, info] of header.tensors) {
      const other = tensors.get(name);
      if (other) throw new SafetensorsError(source.name, `in two shards: ${other.file} and ${info.file}`, name);
      tensors.set(name, info);
    }
  }
  for (const [name, file] of shardOf ?? []) {
    if (tensors.get(name)?.file !== file) {
      throw new SafetensorsError(file, `named by ${INDEX} but not in this shard`, name);
    }
  }
  for (const [name, { file }] of shardOf ? tensors : []) {
    if (!shardOf!.has(name)) throw new SafetensorsError(file, `in this shard but not in the weight_map of ${INDEX}`, name);
  }
  let bytes = 0;
  for (const t of tensors.values()) bytes += t.end - t.begin;
  return { source, config, files, tensors, bytes };
}

export interface LoadProgress {
  loadedBytes: number;
  totalBytes: number;
  tensor: string;
  file: string;
}

/** Whole rows of a tensor as the file stores them: its dtype and little-endian bytes. */
export interface RawRows {
  dtype: string;
  bytes: Uint8Array;
}

/** Receives a tensor's rows in order; a row is the last dimension (a 1-D tensor is one row). */
export type RowSink = (firstRow: number, rows: RawRows) => void | Promise<void>;

export interface StreamOptions {
  signal?: AbortSignal;
  onProgress?: (p: LoadProgress) => void;
  /** Source bytes per piece handed to a sink (at least one row). Default 8 MiB. */
  pieceBytes?: number;
  /** A gap between wanted tensors longer than this is not read: one read ends before it, another starts after. Default 64 MiB. */
  gapBytes?: number;
}

/** Hands out exact byte counts from a stream of pieces of any size, copying nothing. */
class Pull {
  private piece: Uint8Array = new Uint8Array(0);
  private at = 0;
  constructor(private readonly it: AsyncIterator<Uint8Array>, private readonly file: string) {}

  /** The next 1 … n bytes. */
  async take(n: number): Promise<Uint8Array> {
    while (this.at === this.piece.length) {
      const r = await this.it.next();
      if (r.done) throw new SafetensorsError(this.file, 'the file ended before the data it announces');
      [this.piece, this.at] = [r.value, 0];
    }
    const out = this.piece.subarray(this.at, this.at + n);
    this.at += out.length;
    return out;
  }
}

/** Bytes of one row of a tensor: its last dimension (a 0-D tensor is one row of one). */
const rowBytesOf = (t: TensorInfo): number => (t.shape.length ? t.shape[t.shape.length - 1] : 1) * DTYPE_BYTES[t.dtype];

/** Reads tensor t (the stream is at its first byte) and hands its rows to the sink, piece by piece. */
async function deliver(t: TensorInfo, pull: Pull, sink: RowSink, pieceBytes: number, onPiece: (bytes: number) => void): Promise<void> {
  const total = t.end - t.begin;
  const rowBytes = rowBytesOf(t);
  const pieceLen = Math.max(1, Math.floor(pieceBytes / rowBytes)) * rowBytes;
  for (let done = 0; done < total;) {
    const n = Math.min(pieceLen, total - done);
    let bytes = await pull.take(n);
    if (bytes.length < n) { // the piece spans stream chunks: gathered into a buffer of its own, which the sink may keep
      const gather = new Uint8Array(n);
      gather.set(bytes);
      for (let got = bytes.length; got < n;) {
        const more = await pull.take(n - got);
        gather.set(more, got);
        got += more.length;
      }
      bytes = gather;
    }
    await sink(done / rowBytes, { dtype: t.dtype, bytes });
    done += n;
    onPiece(n);
  }
}

/** Tensors in offset order, split where the gap between two is longer than `gap` bytes. */
function runs(list: TensorInfo[], gap: number): TensorInfo[][] {
  const out: TensorInfo[][] = [];
  for (const t of list) {
    const run = out.at(-1);
    if (run && t.begin - run.at(-1)!.end <= gap) run.push(t);
    else out.push([t]);
  }
  return out;
}

/**
 * Reads the wanted tensors, each shard in offset order, and hands each sink its tensor in pieces of
 * whole rows. Holds at most one piece (max(pieceBytes, one row) source bytes) at a time. A shard is one
 * read from the first wanted byte to the last, except across long gaps (the experts an expert cache
 * reads later: gigabytes a file, or a URL, need not deliver at load).
 */
export async function streamTensors(ckpt: Checkpoint, sinks: Map<string, RowSink>, options: StreamOptions = {}): Promise<void> {
  const { signal, onProgress, pieceBytes = 8 * 1024 * 1024, gapBytes = 64 * 1024 * 1024 } = options;
  const wanted = [...sinks.keys()].map((name) => {
    const t = ckpt.tensors.get(name);
    if (!t) throw new SafetensorsError(ckpt.source.name, 'not in the checkpoint', name);
    return t;
  });
  const totalBytes = wanted.reduce((n, t) => n + t.end - t.begin, 0);
  let loadedBytes = 0;

  for (const { file } of ckpt.files) {
    const list = wanted.filter((t) => t.file === file && t.end > t.begin).sort((a, b) => a.begin - b.begin);
    if (!list.length) continue;
    const f = await ckpt.source.open(file, signal);
    if (!f) throw new SafetensorsError(pathOf(ckpt.source, file), 'no longer exists');
    for (const run of runs(list, gapBytes)) {
      const it = f.stream(run[0].begin, run[run.length - 1].end, signal)[Symbol.asyncIterator]();
      const pull = new Pull(it, file);
      try {
        let pos = run[0].begin;
        for (const t of run) {
          for (let skip = t.begin - pos; skip > 0;) skip -= (await pull.take(skip)).length;
          await deliver(t, pull, sinks.get(t.name)!, pieceBytes, (n) => {
            loadedBytes += n;
            onProgress?.({ loadedBytes, totalBytes, tensor: t.name, file });
            signal?.throwIfAborted();
          });
          pos = t.end;
        }
      } finally {
        await it.return?.();
      }
    }
  }
}

const opened = new WeakMap<Checkpoint, Map<string, Promise<ModelFile | undefined>>>();

/**
 * Rows [firstRow, firstRow + rows) of tensor `name`, counted over all dimensions but the last (so one
 * expert of a stacked [E, 2I, H] tensor is rows e·2I … (e+1)·2I − 1), read from its file alone.
 */
export async function readRows(ckpt: Checkpoint, name: string, firstRow: number, rows: number, signal?: AbortSignal): Promise<RawRows> {
  const t = ckpt.tensors.get(name);
  if (!t) throw new SafetensorsError(ckpt.source.name, 'not in the checkpoint', name);
  const rowBytes = rowBytesOf(t);
  const total = (t.end - t.begin) / rowBytes;
  if (!Number.isInteger(firstRow) || !Number.isInteger(rows) || firstRow < 0 || rows < 0 || firstRow + rows > total) {
    throw new SafetensorsError(t.file, `rows ${firstRow}…${firstRow + rows - 1} are outside its ${total} rows`, name);
  }
  let files = opened.get(ckpt);
  if (!files) opened.set(ckpt, files = new Map());
  let open = files.get(t.file);
  if (!open) files.set(t.file, open = ckpt.source.open(t.file, signal));
  const f = await open.catch((e: unknown) => {
    files.delete(t.file); // a failed open (an abort, say) is tried again by the next read
    throw e;
  });
  if (!f) throw new SafetensorsError(pathOf(ckpt.source, t.file), 'no longer exists');
  const start = t.begin + firstRow * rowBytes;
  return { dtype: t.dtype, bytes: await readRange(f, start, start + rows * rowBytes, signal) };
}
