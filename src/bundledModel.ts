// webmoe/bundled-model: the bundled model (a small MoE trained on Jane Austen's novels, shipped in the
// package) for browser apps. Each file's URL is written as `new URL('…', import.meta.url)`, which
// Vite and webpack follow to emit the file with the app; without a bundler the URLs point into the
// installed package. The library build leaves them to the app's bundler (see vite.config.ts).
import { fileUrlsSource } from './io/fileUrlsSource.js';
import type { ModelCache } from './io/modelStores.js';
import type { ModelSource } from './io/source.js';

/** The bundled model's files, each at the URL the app serves it from. */
export const bundledModelFiles: Readonly<Record<string, string>> = {
  'chat_template.jinja': new URL(/* @vite-ignore */ '../public/models/austen-moe/chat_template.jinja', import.meta.url).href,
  'config.json': new URL(/* @vite-ignore */ '../public/models/austen-moe/config.json', import.meta.url).href,
  'model.safetensors': new URL(/* @vite-ignore */ '../public/models/austen-moe/model.safetensors', import.meta.url).href,
  'tokenizer.json': new URL(/* @vite-ignore */ '../public/models/austen-moe/tokenizer.json', import.meta.url).href,
  'tokenizer_config.json': new URL(/* @vite-ignore */ '../public/models/austen-moe/tokenizer_config.json', import.meta.url).href,
};

/** The bundled model as a source for loadModel or createWorkerEngine's `files`: `loadModel(bundledModel())`. */
export function bundledModel(options: { cache?: ModelCache } = {}): ModelSource {
  return fileUrlsSource(bundledModelFiles, { ...options, name: 'the bundled model (austen-moe)' });
}
