// A URL ModelSource that keeps the files it fetches in the browser (Cache API or OPFS: modelStores.ts),
// so that a reload reads them from disk instead of the network. A file not yet kept is fetched whole
// (the Cache API refuses partial 206 responses) straight into the store, its bytes counted as they
// pass; every read then slices the stored Blob like a picked File, so the JS heap never holds a whole
// weight file.
import { SourceError } from './error.js';
import { cacheApiStore, type ModelCache, modelFolderUrl, opfsStore } from './modelStores.js';
import { fetchNamed, fileListSource, isHtmlPage, isHtmlText, type ModelSource, urlSource } from './source.js';

export { DEFAULT_CACHE } from './modelStores.js';

export interface DownloadProgress {
  file: string;
  loadedBytes: number;
  /** undefined when the server sends no length (or a compressed one) */
  totalBytes: number | undefined;
}

export interface CachedSourceOptions {
  /** The bucket: a Cache API cache, or an OPFS folder. Default 'webmoe-models'. */
  cacheName?: string;
  /** Where files are kept. Default 'cache-api'. */
  storage?: Exclude<ModelCache, 'none'>;
  /** Called as the bytes of a file not yet kept arrive. */
  onDownload?: (p: DownloadProgress) => void;
  fetch?: typeof fetch;
}

/** Files under `baseUrl`, fetched once into the Cache API (or OPFS) and read from there afterwards. */
export function cachedUrlSource(baseUrl: string, o: CachedSourceOptions = {}): ModelSource {
  const get: typeof fetch = o.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const model = modelFolderUrl(baseUrl);
  const store = o.storage === 'opfs' ? opfsStore(o.cacheName) : cacheApiStore(o.cacheName);

  async function download(url: string, file: string, signal?: AbortSignal): Promise<boolean> {
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
    await store.put(model, file, counted, res.headers.get('Content-Type'));
    return true;
  }

  async function blob(file: string, signal?: AbortSignal): Promise<Blob | undefined> {
    signal?.throwIfAborted();
    const hit = await store.get(model, file);
    if (hit) return hit;
    const url = new URL(file, model).href;
    if (!(await download(url, file, signal))) return undefined;
    const kept = await store.get(model, file);
    if (!kept) throw new SourceError(url, 'the browser did not keep it (out of storage?)');
    return kept;
  }

  return {
    name: model,
    async open(file, signal) {
      const b = await blob(file, signal);
      return b && fileListSource([new File([b], file)]).open(file, signal);
    },
    async text(file, signal) {
      const text = await (await blob(file, signal))?.text();
      if (text === undefined || !isHtmlText(file, text)) return text;
      // An HTML page sent without its Content-Type: that file missing, and not kept.
      await store.delete(model, file);
      return undefined;
    },
  };
}

const CACHES: ModelCache[] = ['cache-api', 'opfs', 'none'];

/**
 * The source loadModel(url) reads: kept in `cache` — by default the Cache API where the page has one
 * (a secure context), else read from the network each time.
 */
export function modelUrlSource(url: string, o: Omit<CachedSourceOptions, 'storage'> & { cache?: ModelCache } = {}): ModelSource {
  const cache = o.cache ?? (typeof caches === 'undefined' ? 'none' : 'cache-api');
  if (!CACHES.includes(cache)) throw new TypeError(`webmoe: cache must be one of ${CACHES.map((c) => `'${c}'`).join(', ')}, got ${JSON.stringify(cache)}`);
  return cache === 'none' ? urlSource(url, { fetch: o.fetch }) : cachedUrlSource(url, { ...o, storage: cache });
}
