// Where a checkpoint's files come from: a URL, browser File objects (or, in Node, a directory: see
// nodeSource.ts). Files are read as streams of byte ranges so that no caller needs a whole file.
import { SourceError } from './error.js';

export interface ModelFile {
  size: number;
  /** Bytes [start, end) as a stream of pieces of any size, in order. */
  stream(start: number, end: number, signal?: AbortSignal): AsyncIterable<Uint8Array>;
}

export interface ModelSource {
  /** A path or URL, for messages. */
  name: string;
  /** undefined when the file does not exist. */
  open(file: string, signal?: AbortSignal): Promise<ModelFile | undefined>;
  text(file: string, signal?: AbortSignal): Promise<string | undefined>;
}

/** Bytes [start, end) of a file in one array (for small ranges: headers). */
export async function readRange(f: ModelFile, start: number, end: number, signal?: AbortSignal): Promise<Uint8Array> {
  const out = new Uint8Array(end - start);
  let at = 0;
  for await (const piece of f.stream(start, end, signal)) {
    if (at + piece.length > out.length) throw new Error(`read of bytes ${start}-${end} got more than ${out.length} bytes`);
    out.set(piece, at);
    at += piece.length;
  }
  if (at !== out.length) throw new Error(`read of bytes ${start}-${end} got ${at} bytes, expected ${out.length}`);
  return out;
}

/** How an HTML page starts: what many hosts answer for a missing path (an SPA fallback), with status 200. */
const HTML_START = /^\s*<(!doctype|html)/i;

const isPageName = (file: string) => /\.html?$/i.test(file.split(/[?#]/)[0]);

/** Whether `res`, asked for `file` (not itself a page), is an HTML page instead, by its Content-Type. */
export const isHtmlPage = (file: string, res: Response): boolean =>
  !isPageName(file) && /^\s*(text\/html|application\/xhtml\+xml)/i.test(res.headers.get('Content-Type') ?? '');

/** Whether the text of `file` (not itself a page) is an HTML page, sent without its Content-Type. */
export const isHtmlText = (file: string, text: string): boolean => !isPageName(file) && HTML_START.test(text);

/**
 * fetch, naming the URL when no answer comes (fetch says only "Failed to fetch"): in a page, a URL of
 * another origin most often lacks the CORS headers that would let the page read it.
 */
export async function fetchNamed(get: typeof fetch, url: string, init: RequestInit = {}): Promise<Response> {
  try {
    return await get(url, init);
  } catch (e) {
    if (init.signal?.aborted || !(e instanceof TypeError)) throw e;
    const cause = (e.cause as { code?: string } | undefined)?.code;
    const origin = typeof location === 'undefined' ? undefined : location.origin;
    const cors = origin !== undefined && new URL(url).origin !== origin
      ? `, or it does not allow this page (${origin}) to read it: CORS headers missing`
      : '';
    throw new SourceError(url, `no answer (${e.message}${cause ? `: ${cause}` : ''}): the server is unreachable or offline${cors}`);
  }
}

/** Yields a web stream's pieces, checking the signal between them; cancels the stream when left early. */
async function* pieces(body: ReadableStream<Uint8Array>, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  try {
    for (;;) {
      signal?.throwIfAborted();
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.cancel().catch(() => {}); // an aborted or failed stream rejects its cancel: nothing to do
  }
}

/** Keeps bytes [skip, skip + length) of a stream and stops reading after them. */
async function* keepRange(src: AsyncIterable<Uint8Array>, skip: number, length: number, what: string): AsyncGenerator<Uint8Array> {
  let at = 0; // bytes of src seen
  const end = skip + length;
  for await (const piece of src) {
    const from = Math.max(skip - at, 0);
    const to = Math.min(end - at, piece.length);
    at += piece.length;
    if (to > from) yield piece.subarray(from, to);
    if (at >= end) return;
  }
  throw new SourceError(what, `the response ended after ${Math.max(at - skip, 0)} of ${length} bytes`);
}

/** Files under a base URL, read with HTTP Range requests (servers without Range support work too). */
export function urlSource(baseUrl: string, options: { fetch?: typeof fetch; headers?: Record<string, string> } = {}): ModelSource {
  const get: typeof fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const dir = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const base = typeof location === 'undefined' ? new URL(dir) : new URL(dir, location.href);
  const request = (url: string, method: string, signal?: AbortSignal, range?: string) =>
    fetchNamed(get, url, { method, signal, headers: range ? { ...options.headers, Range: range } : options.headers });
  const failed = (url: string, res: Response) => new SourceError(url, `HTTP ${res.status} ${res.statusText}`.trim());

  async function size(url: string, signal?: AbortSignal): Promise<number | undefined> {
    const head = await request(url, 'HEAD', signal);
    if (head.status === 404 || isHtmlPage(url, head)) return undefined;
    const length = head.headers.get('Content-Length');
    if (head.ok && length !== null) return Number(length);
    // Some servers refuse HEAD or leave out the length: one byte of a GET tells the total.
    const res = await request(url, 'GET', signal, 'bytes=0-0');
    await res.body?.cancel();
    if (res.status === 404 || isHtmlPage(url, res)) return undefined;
    if (!res.ok) throw failed(url, res);
    const total = res.status === 206 ? res.headers.get('Content-Range')?.match(/\/(\d+)$/)?.[1] : res.headers.get('Content-Length');
    if (total == null) throw new SourceError(url, 'the server gives no file size');
    return Number(total);
  }

  return {
    name: base.href,
    async open(file, signal) {
      const url = new URL(file, base).href;
      const n = await size(url, signal);
      if (n === undefined) return undefined;
      return {
        size: n,
        async *stream(start, end, signal) {
          if (end <= start) return;
          const res = await request(url, 'GET', signal, `bytes=${start}-${end - 1}`);
          if (!res.body || (res.status !== 206 && res.status !== 200)) {
            await res.body?.cancel();
            throw failed(url, res);
          }
          if (isHtmlPage(url, res)) {
            await res.body.cancel();
            throw new SourceError(url, 'the server answered with an HTML page, not the file');
          }
          const from = res.status === 206 ? Number(res.headers.get('Content-Range')?.match(/^bytes (\d+)-/)?.[1]) : 0;
          if (res.status === 206 && from !== start) {
            await res.body.cancel();
            throw new SourceError(url, `asked for bytes from ${start}, the server sent from ${from}`);
          }
          // 206: the range itself; 200 (no Range support): the whole file, read only up to `end`.
          yield* keepRange(pieces(res.body, signal), start - from, end - start, url);
        },
      };
    },
    async text(file, signal) {
      const url = new URL(file, base).href;
      const res = await request(url, 'GET', signal);
      if (res.status === 404 || isHtmlPage(url, res)) { // a page for a missing file is that file missing
        await res.body?.cancel();
        return undefined;
      }
      if (!res.ok) {
        await res.body?.cancel();
        throw failed(url, res);
      }
      const text = await res.text();
      return isHtmlText(url, text) ? undefined : text;
    },
  };
}

/** Browser File objects (from <input type=file webkitdirectory> or a drop), found by their base name. */
export function fileListSource(files: Iterable<File>): ModelSource {
  const byName = new Map<string, { file: File; depth: number }>();
  let name = 'selected files';
  for (const file of files) {
    const path = file.webkitRelativePath || file.name;
    const parts = path.split('/');
    if (parts.length > 1 && name === 'selected files') name = parts[0];
    const base = parts[parts.length - 1];
    // The shallowest of equal names wins: a picked model folder may hold others (.git/…).
    const seen = byName.get(base);
    if (!seen || parts.length < seen.depth) byName.set(base, { file, depth: parts.length });
  }
  return {
    name,
    async open(file) {
      const found = byName.get(file)?.file;
      if (!found) return undefined;
      return {
        size: found.size,
        async *stream(start, end, signal) {
          if (end > start) yield* pieces(found.slice(start, end).stream(), signal);
        },
      };
    },
    async text(file, signal) {
      signal?.throwIfAborted();
      return byName.get(file)?.file.text();
    },
  };
}
