// A model whose files each have a URL of their own: what a bundler makes of a package's files (Vite and
// webpack emit each as an asset with a hashed name, and Vite inlines small ones as data: URLs). Each
// file is read from its own folder through modelUrlSource, so it is cached like any model URL.
import { type CachedSourceOptions, modelUrlSource } from './cacheSource.js';
import type { ModelCache } from './modelStores.js';
import { fileListSource, type ModelSource } from './source.js';

/** `files`: a URL for each file name (config.json, model.safetensors, …). */
export function fileUrlsSource(
  files: Record<string, string | URL>,
  o: Omit<CachedSourceOptions, 'storage'> & { cache?: ModelCache; name?: string } = {},
): ModelSource {
  const at = (file: string): { source: ModelSource; name: string } | undefined => {
    const url = files[file];
    if (url === undefined) return undefined;
    const u = typeof location === 'undefined' ? new URL(url) : new URL(url, location.href);
    if (u.protocol === 'data:') return { source: dataUrlSource(u.href, file, o.fetch), name: file };
    return { source: modelUrlSource(new URL('.', u).href, o), name: decodeURIComponent(u.pathname.split('/').pop()!) };
  };
  return {
    name: o.name ?? 'the model files',
    async open(file, signal) {
      const f = at(file);
      return f?.source.open(f.name, signal);
    },
    async text(file, signal) {
      const f = at(file);
      return f?.source.text(f.name, signal);
    },
  };
}

/** One file inlined in a data: URL (nothing to cache). */
function dataUrlSource(url: string, file: string, get: typeof fetch = (input, init) => globalThis.fetch(input, init)): ModelSource {
  const files = async (signal?: AbortSignal) => fileListSource([new File([await (await get(url, { signal })).blob()], file)]);
  return {
    name: file,
    open: async (name, signal) => (await files(signal)).open(name, signal),
    text: async (name, signal) => (await files(signal)).text(name, signal),
  };
}
