import { defineConfig, type Plugin } from 'vitest/config';

// `new URL(/* @vite-ignore */ '…', import.meta.url)` in src/ (worker scripts, the bundled model's
// files): the library build leaves each alone, and this drops the comment from dist/ so that the app's
// bundler (Vite, webpack) follows it and emits the file with the app.
const urlsForTheAppsBundler: Plugin = {
  name: 'webmoe:urls-for-the-apps-bundler',
  // Blanked, not removed: every line and column stays put, so the source maps stay right (map: null).
  renderChunk: (code) => ({
    code: code.replace(/(new URL\(\s*)(\/\* @vite-ignore \*\/)(\s*"[^"]+",\s*import\.meta\.url\s*\))/g, (_, a, c: string, b) => a + ' '.repeat(c.length) + b),
    map: null,
  }),
};

// The library build: `webmoe` (browser and Node), `webmoe/node` (Dawn) and the CLI. The WGSL files are
// imported by src/kernels/shaders.ts (import.meta.glob with `?raw`), so they are inlined as strings in
// dist/ and the package needs no file access.
export default defineConfig({
  // public/ holds the demo's assets (the bundled model); the package ships it as it is.
  publicDir: false,
  plugins: [urlsForTheAppsBundler],
  build: {
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    minify: false,
    sourcemap: true,
    lib: {
      entry: {
        index: 'src/index.ts',
        node: 'src/node.ts',
        'bundled-model': 'src/bundledModel.ts',
        cli: 'src/cli.ts',
        // Worker scripts (src/platform/workers.ts and nodeWorkers.ts find them beside the modules in dist/).
        'engine-worker': 'src/api/worker/engineWorker.ts',
        'engine-worker-node': 'src/api/worker/engineWorker.node.ts',
        'shard-worker': 'src/moe/sharded/shardWorker.ts',
        'shard-worker-node': 'src/moe/sharded/shardWorker.node.ts',
        // serve-bench's load client, forked by the CLI (src/cli/serveBench.ts finds it beside the CLI).
        'serve-load-client': 'src/serve/loadClient.ts',
      },
      formats: ['es'],
    },
    rolldownOptions: {
      // comlink is bundled: a module worker has no import map, so the browser's worker scripts import no
      // bare names. xgrammar (1 MB, loaded only for structured output) stays the app's dependency.
      external: ['webgpu', /^node:/, '@mlc-ai/web-xgrammar'],
    },
  },
  test: {
    include: ['test/**/*.test.ts'],
    // A fresh machine's lavapipe compiles each pipeline variant (~1–2 s) before its shader cache fills:
    // the tests that try every tile candidate take minutes there, seconds afterwards.
    testTimeout: 600_000,
    hookTimeout: 300_000, // hooks that load several models (each with its tile trial) are as slow
    // Each test file makes its own Dawn device; two files at once fill this 2-core machine.
    maxWorkers: 2,
  },
});
