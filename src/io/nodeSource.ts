// Checkpoint files from the local disk (Node only; the browser build never imports this file).
import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type ModelFile, type ModelSource, urlSource } from './source.js';

const PIECE_BYTES = 8 * 1024 * 1024;

const missing = (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT';

function fileAt(path: string, size: number): ModelFile {
  return {
    size,
    async *stream(start, end, signal) {
      signal?.throwIfAborted();
      const handle = await open(path, 'r');
      try {
        for (let at = start; at < end;) {
          // A fresh buffer per piece: callers may keep the pieces they are given.
          const piece = new Uint8Array(Math.min(PIECE_BYTES, end - at));
          const { bytesRead } = await handle.read(piece, 0, piece.length, at);
          if (bytesRead === 0) throw new Error(`${path}: ends at byte ${at}, expected bytes up to ${end}`);
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
  return fileAt(path, (await stat(path)).size);
}

/** The files of a local directory (a downloaded Hugging Face model folder). */
export function nodeDirSource(dir: string): ModelSource {
  return {
    name: dir,
    async open(file, signal) {
      signal?.throwIfAborted();
      const path = join(dir, file);
      try {
        return fileAt(path, (await stat(path)).size);
      } catch (e) {
        if (missing(e)) return undefined;
        throw e;
      }
    },
    async text(file, signal) {
      try {
        return await readFile(join(dir, file), { encoding: 'utf8', signal });
      } catch (e) {
        if (missing(e)) return undefined;
        throw e;
      }
    },
  };
}

/** A model named on the command line or in Node code: an http(s) URL, else a local folder. */
export function nodeModelSource(model: string): ModelSource {
  return /^https?:\/\//.test(model) ? urlSource(model) : nodeDirSource(model);
}
