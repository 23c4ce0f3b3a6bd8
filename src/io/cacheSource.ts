// A URL ModelSource that keeps the files it fetches in the browser's Cache API, so that a reload reads
// them from disk instead of the network. A file not yet cached is fetched whole (the Cache API refuses
// partial 206 responses) straight into the cache, its bytes counted as they pass; every read then
// slices the cached Blob like a picked File, so the JS heap never holds a whole weight file.
import { SourceError } from './error.js';
import { fetchNamed, fileListSource, isHtmlPage, isHtmlText, type ModelSource } from './source.js';

export interface DownloadProgress {
  file: string;
  loadedBytes: number;
  /** undefined when the server sends no length (or a compressed one) */
  totalBytes: number | undefined;
}

export interface CachedSourceOptions {
  /** Cache API bucket. Default 'webmoe-models'. */
  cacheName?: string;
  /** Called as the bytes of a file not yet cached arrive. */
  onDownload?: (p: DownloadProgress) => void;
  fetch?: typeof fetch;
}

export const DEFAULT_CACHE = 'webmoe-models';

/** Files under `baseUrl`, fetched once into the Cache API and read from there afterwards. */
export function cachedUrlSource(baseUrl: string, o: CachedSourceOptions = {}): ModelSource {
  const get: typeof fetch = o.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const dir = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const base = typeof location === 'undefined' ? new URL(dir) : new URL(dir, location.href);
  const cacheName = o.cacheName ?? DEFAULT_CACHE;

  async function download(cache: Cache, url: string, file: string, signal?: AbortSignal): Promise<boolean> {
    const res = await fetchNamed(get, url, { signal });
    const missing = res.status === 404 || isHtmlPage(url, res); // a host's page for a missing file: that file missing
    if (missing || !res.ok || !res.body) {
      await res.body?.cancel();
      if (missing) return false;
      throw new SourceError(url, `HTTP ${res.status} ${res.statusText}`.trim());
    }
    const length = res.headers.get('Content-Length');
    const totalBytes = length !== null && !res.headers.get('Content-Encoding') ? Number(length) : undefined;
    let loadedBytes = 0;
    const counted = res.body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
      transform(piece, out) {
        loadedBytes += piece.length;
        o.onDownload?.({ file, loadedBytes, totalBytes });
        out.enqueue(piece);
      },
    }), { signal });
    // An aborted or failed stream makes put() reject and stores nothing.
    const type = res.headers.get('Content-Type');
    await cache.put(url, new Response(counted, { headers: type ? { 'Content-Type': type } : {} }));
    return true;
  }

  async function blob(file: string, signal?: AbortSignal): Promise<Blob | undefined> {
    signal?.throwIfAborted();
    const url = new URL(file, base).href;
    const cache = await caches.open(cacheName);
    let hit = await cache.match(url);
    if (!hit) {
      if (!(await download(cache, url, file, signal))) return undefined;
      hit = await cache.match(url);
      if (!hit) throw new SourceError(url, 'the browser did not keep it in the cache (out of storage?)');
    }
    return hit.blob();
  }

  return {
    name: base.href,
    async open(file, signal) {
      const b = await blob(file, signal);
      return b && fileListSource([new File([b], file)]).open(file, signal);
    },
    async text(file, signal) {
      const text = await (await blob(file, signal))?.text();
      if (text === undefined || !isHtmlText(file, text)) return text;
      // An HTML page sent without its Content-Type: that file missing, and not kept.
      await (await caches.open(cacheName)).delete(new URL(file, base).href);
      return undefined;
    },
  };
}
