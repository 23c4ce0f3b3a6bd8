// The demo pages: chat (index.html) and the WebGPU benchmark (bench.html), using the library from
// ../src directly. public/ (the bundled model, served at /models/austen-moe/) is the repo's.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { benchPeers } from './bench/peerPlugin.js';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: here('.'),
  publicDir: here('../public'),
  base: './',
  // Missing files must be 404s (a model folder without chat_template.jinja), not the SPA's index.html.
  appType: 'mpa',
  // The benchmark page's peer libraries, from bench/peers/ where installed.
  plugins: [benchPeers()],
  server: { fs: { allow: [here('..')] } },
  // The chat page's engine worker (new Worker(new URL('./engineWorker.ts', import.meta.url), { type: 'module' })).
  worker: { format: 'es' },
  build: {
    target: 'es2022',
    outDir: here('../demo-dist'),
    emptyOutDir: true,
    rolldownOptions: {
      input: { chat: here('index.html'), bench: here('bench.html') },
    },
  },
});
