// Where the browser keeps a model's downloaded files: the Cache API (the default, as WebLLM and
// transformers.js do) or the origin private file system (OPFS). Both keep a file only once it has
// arrived whole, name a full quota (StorageQuotaError), and know which model folder each file is of,
// so that cached models can be listed and deleted.
import { SourceError, StorageQuotaError } from './error.js';

/** Where model files are kept: the Cache API, OPFS, or nowhere (read from the network every time). */
export type ModelCache = 'cache-api' | 'opfs' | 'none';

export interface CachedModel {
  /** The model folder's URL (ending in '/'). */
  url: string;
  storage: Exclude<ModelCache, 'none'>;
  files: { name: string; bytes: number }[];
  bytes: number;
}

export interface ModelStore {
  get(model: string, file: string): Promise<Blob | undefined>;
  /** Keeps the body once it has arrived whole; an aborted or failed body keeps nothing. */
  put(model: string, file: string, body: ReadableStream<Uint8Array>, type: string | null): Promise<void>;
  delete(model: string, file: string): Promise<void>;
  models(): Promise<CachedModel[]>;
  deleteModel(model: string): Promise<boolean>;
}

/** The bucket both stores use unless told another. */
export const DEFAULT_CACHE = 'webmoe-models';

const isQuota = (e: unknown) => e instanceof DOMException && e.name === 'QuotaExceededError';

async function quotaError(url: string, storage: string): Promise<StorageQuotaError> {
  const est = await navigator.storage?.estimate?.().catch(() => undefined);
  return new StorageQuotaError(url, storage, est?.usage, est?.quota);
}

/** Runs a store's write, naming a full quota. */
async function writing(url: string, storage: string, write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (e) {
    throw isQuota(e) ? await quotaError(url, storage) : e;
  }
}

// The Cache API keys a response by its URL; a header we add tells the model folder it belongs to.
const MODEL_HEADER = 'X-Webmoe-Model';

export function cacheApiStore(name = DEFAULT_CACHE): ModelStore {
  if (typeof caches === 'undefined') {
    throw new SourceError('Cache API', 'this page has no Cache API (it needs a secure context: https or localhost): load with cache: \'none\' or \'opfs\'');
  }
  const open = () => caches.open(name);
  const key = (model: string, file: string) => new URL(file, model).href;
  const byModel = async () => {
    const cache = await open();
    const found = new Map<string, { request: Request; response: Response }[]>();
    for (const request of await cache.keys()) {
      const response = await cache.match(request);
      const model = response?.headers.get(MODEL_HEADER);
      if (response && model) found.set(model, [...found.get(model) ?? [], { request, response }]);
    }
    return { cache, found };
  };
  return {
    async get(model, file) {
      return (await (await open()).match(key(model, file)))?.blob();
    },
    async put(model, file, body, type) {
      const headers: Record<string, string> = { [MODEL_HEADER]: model };
      if (type) headers['Content-Type'] = type;
      await writing(key(model, file), 'Cache API', async () => (await open()).put(key(model, file), new Response(body, { headers })));
    },
    async delete(model, file) {
      await (await open()).delete(key(model, file));
    },
    async models() {
      const { found } = await byModel();
      return Promise.all([...found].map(async ([url, entries]) => {
        const files = await Promise.all(entries.map(async ({ request, response }) => ({
          name: request.url.slice(url.length),
          bytes: (await response.blob()).size,
        })));
        return { url, storage: 'cache-api' as const, files, bytes: files.reduce((n, f) => n + f.bytes, 0) };
      }));
    },
    async deleteModel(model) {
      const { cache, found } = await byModel();
      const entries = found.get(model) ?? [];
      await Promise.all(entries.map(({ request }) => cache.delete(request)));
      return entries.length > 0;
    },
  };
}

// OPFS: a folder per model (its URL, encoded) under a folder per bucket; OPFS names cannot hold '/'.
// The TS DOM library leaves out the folders' async iteration.
type Folder = FileSystemDirectoryHandle & { entries(): AsyncIterable<[string, FileSystemHandle]> };

export function opfsStore(name = DEFAULT_CACHE): ModelStore {
  if (typeof navigator === 'undefined' || !navigator.storage?.getDirectory) {
    throw new SourceError('OPFS', 'this page has no origin private file system (navigator.storage.getDirectory): load with cache: \'cache-api\' or \'none\'');
  }
  const bucket = async () => (await navigator.storage.getDirectory()).getDirectoryHandle(name, { create: true }) as Promise<Folder>;
  const folder = async (model: string, create: boolean) => {
    try {
      return await (await bucket()).getDirectoryHandle(encodeURIComponent(model), { create }) as Folder;
    } catch (e) {
      if (e instanceof DOMException && e.name === 'NotFoundError') return undefined;
      throw e;
    }
  };
  const handle = async (model: string, file: string) => {
    try {
      return await (await folder(model, false))?.getFileHandle(encodeURIComponent(file));
    } catch (e) {
      if (e instanceof DOMException && e.name === 'NotFoundError') return undefined;
      throw e;
    }
  };
  return {
    async get(model, file) {
      return (await handle(model, file))?.getFile();
    },
    async put(model, file, body) {
      // Creating the folder and file takes room too: all of it names a full quota.
      await writing(new URL(file, model).href, 'OPFS', async () => {
        const dir = (await folder(model, true))!;
        // Written under a name no file has (encoded names hold no space), renamed once whole: a
        // download cut short, even by a closed tab, never passes for the file.
        const part = `${encodeURIComponent(file)} (downloading)`;
        const h = await dir.getFileHandle(part, { create: true }) as FileSystemFileHandle & { move?(name: string): Promise<void> };
        try {
          if (!('createWritable' in h) || !h.move) {
            throw new SourceError('OPFS', 'this browser cannot write OPFS files from a page (createWritable, move): load with cache: \'cache-api\'');
          }
          await body.pipeTo(await h.createWritable()); // commits only on close; pipeTo aborts it when the body fails
          await h.move(encodeURIComponent(file));
        } catch (e) {
          await dir.removeEntry(part).catch(() => {});
          throw e;
        }
      });
    },
    async delete(model, file) {
      await (await folder(model, false))?.removeEntry(encodeURIComponent(file)).catch(() => {});
    },
    async models() {
      const out: CachedModel[] = [];
      for await (const [key, dir] of (await bucket()).entries()) {
        if (dir.kind !== 'directory') continue;
        const files = [];
        for await (const [file, h] of (dir as Folder).entries()) {
          if (h.kind === 'file' && !file.includes(' ')) {
            files.push({ name: decodeURIComponent(file), bytes: (await (h as FileSystemFileHandle).getFile()).size });
          }
        }
        out.push({ url: decodeURIComponent(key), storage: 'opfs', files, bytes: files.reduce((n, f) => n + f.bytes, 0) });
      }
      return out;
    },
    async deleteModel(model) {
      if (!(await folder(model, false))) return false;
      await (await bucket()).removeEntry(encodeURIComponent(model), { recursive: true });
      return true;
    },
  };
}

/** The stores this page has (the Cache API needs a secure context; OPFS a recent browser). */
function presentStores(name?: string): ModelStore[] {
  const stores: ModelStore[] = [];
  if (typeof caches !== 'undefined') stores.push(cacheApiStore(name));
  if (typeof navigator !== 'undefined' && typeof navigator.storage?.getDirectory === 'function') stores.push(opfsStore(name));
  return stores;
}

/** The models whose files this origin keeps, in the Cache API and in OPFS, with their sizes. */
export async function listCachedModels(options: { cacheName?: string } = {}): Promise<CachedModel[]> {
  return (await Promise.all(presentStores(options.cacheName).map((s) => s.models()))).flat();
}

/** Deletes a model's cached files (`url`: its folder, as given to loadModel) from both stores; whether there were any. */
export async function deleteCachedModel(url: string, options: { cacheName?: string } = {}): Promise<boolean> {
  const model = modelFolderUrl(url);
  const deleted = await Promise.all(presentStores(options.cacheName).map((s) => s.deleteModel(model)));
  return deleted.includes(true);
}

/** A model folder's absolute URL, ending in '/', as the stores key it. */
export function modelFolderUrl(url: string): string {
  const dir = url.endsWith('/') ? url : `${url}/`;
  return (typeof location === 'undefined' ? new URL(dir) : new URL(dir, location.href)).href;
}
