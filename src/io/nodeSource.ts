// Checkpoint files from the local disk (Node only; the browser build never imports this file).
import { constants, type Stats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SourceError } from './error.js';
import { type ModelFile, type ModelSource, urlSource } from './source.js';

const PIECE_BYTES = 8 * 1024 * 1024;

const missing = (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT';

// Non-blocking: opening a FIFO without a writer would otherwise wait forever (a regular file ignores it).
const READ = constants.O_RDONLY | constants.O_NONBLOCK;

const kindOf = (s: Stats) =>
  s.isDirectory()
    ? 'a directory'
    : s.isFIFO()
    ? 'a FIFO'
    : s.isSocket()
    ? 'a socket'
    : s.isCharacterDevice() || s.isBlockDevice()
    ? 'a device'
    : 'something else';

/** The size of the regular file at `path` (undefined if there is none); anything else is a named error. */
async function regularSize(path: string): Promise<number | undefined> {
  let s: Stats;
  try {
    s = await stat(path); // never blocks, whatever the file is
  } catch (e) {
    if (missing(e)) return undefined;
    throw e;
  }
  if (!s.isFile()) throw new SourceError(path, `is ${kindOf(s)}, not a regular file`);
  return s.size;
}

function fileAt(path: string, size: number): ModelFile {
  return {
    size,
    async *stream(start, end, signal) {
      signal?.throwIfAborted();
      const handle = await open(path, READ);
      try {
        for (let at = start; at < end;) {
          // A fresh buffer per piece: callers may keep the pieces they are given.
          const piece = new Uint8Array(Math.min(PIECE_BYTES, end - at));
          const { bytesRead } = await handle.read(piece, 0, piece.length, at);
          if (bytesRead === 0) throw new SourceError(path, `ends at byte ${at}, expected bytes up to ${end}`);
          at += bytesRead;
          yield piece.subarray(0, bytesRead);
          signal?.throwIfAborted();
        }
      } finally {
        await handle.close();
      }
    },
  };
}

/** One file on disk (the CLI's `inspect FILE`). */
export async function nodeFile(path: string): Promise<ModelFile> {
  const size = await regularSize(path);
  if (size === undefined) throw new SourceError(path, 'not found');
  return fileAt(path, size);
}

/** The files of a local directory (a downloaded Hugging Face model folder). */
export function nodeDirSource(dir: string): ModelSource {
  return {
    name: dir,
    async open(file, signal) {
      signal?.throwIfAborted();
      const path = join(dir, file);
      const size = await regularSize(path);
      return size === undefined ? undefined : fileAt(path, size);
    },
    async text(file, signal) {
      const path = join(dir, file);
      if ((await regularSize(path)) === undefined) return undefined;
      const handle = await open(path, READ);
      try {
        return await handle.readFile({ encoding: 'utf8', signal });
      } finally {
        await handle.close();
      }
    },
  };
}

/** A model named on the command line or in Node code: an http(s) URL, else a local folder. */
export function nodeModelSource(model: string): ModelSource {
  return /^https?:\/\//.test(model) ? urlSource(model) : nodeDirSource(model);
}
