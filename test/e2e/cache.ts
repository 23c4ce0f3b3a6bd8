// Runs in the cache test page: loadModel(url) with each cache, the cached models listed and deleted.
import { createWorkerEngine, deleteCachedModel, fileUrlsSource, listCachedModels, loadModel, type ModelCache } from '../../src/index.js';

/** Loads `url`, returns its logits of `tokens` and the files whose bytes came from the network. */
export async function load(url: string, cache: ModelCache | undefined, tokens: number[]) {
  const downloaded = new Set<string>();
  const engine = await loadModel(url, { cache, onDownload: (p) => downloaded.add(p.file) });
  const logits = (await engine.logits(tokens)).map((r) => Array.from(r));
  engine.dispose();
  return { logits, downloaded: [...downloaded].sort() };
}

/** Loads a model given a URL for each file (as a bundler names them), returns its logits of `tokens`. */
export async function loadFiles(files: Record<string, string>, tokens: number[]) {
  const downloaded = new Set<string>();
  const engine = await loadModel(fileUrlsSource(files, { onDownload: (p) => downloaded.add(p.file) }));
  const logits = (await engine.logits(tokens)).map((r) => Array.from(r));
  engine.dispose();
  return { logits, downloaded: [...downloaded].sort() };
}

/** Loads `url` in an engine worker of the app's own (exposeEngine), as load() does in the page. */
export async function loadInWorker(url: string, tokens: number[]) {
  const downloaded = new Set<string>();
  const engine = await createWorkerEngine(url, {
    worker: () => new Worker(new URL('./cacheWorker.ts', import.meta.url), { type: 'module' }),
    onDownload: (p) => downloaded.add(p.file),
  });
  const logits = (await engine.logits(tokens)).map((r) => Array.from(r));
  engine.dispose();
  return { logits, downloaded: [...downloaded].sort() };
}

/** A failed load's error, as plain data. */
export async function loadError(url: string, cache: ModelCache) {
  try {
    (await loadModel(url, { cache })).dispose();
    return undefined;
  } catch (e) {
    return { name: (e as Error).name, message: (e as Error).message };
  }
}

Object.assign(globalThis, { load, loadFiles, loadInWorker, loadError, listCachedModels, deleteCachedModel });
