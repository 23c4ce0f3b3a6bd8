// The Node worker scripts (and serve-bench's load client, a forked process), built from the TypeScript source with Vite (the same transform as the
// package build: WGSL inlined), into a fresh folder under node_modules/.cache (so that their
// bare imports — webgpu — resolve from the repository). A worker_threads Worker cannot run the .ts
// source itself (Node 20 has no type stripping, and vitest's transform does not reach workers).
// Sets WEBMOE_WORKER_DIR, where src/platform/nodeWorkers.ts looks for them.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'vite';

let built: Promise<string> | undefined;

export function buildWorkers(): Promise<string> {
  built ??= (async () => {
    const root = resolve('node_modules/.cache/webmoe-test-workers');
    mkdirSync(root, { recursive: true });
    // Builds of earlier runs (one per test process), once they are an hour old.
    for (const old of readdirSync(root)) {
      const path = join(root, old);
      if (Date.now() - statSync(path).mtimeMs > 3600_000) rmSync(path, { recursive: true, force: true });
    }
    const outDir = mkdtempSync(join(root, 'build-'));
    await build({
      configFile: false,
      logLevel: 'error',
      publicDir: false,
      build: {
        target: 'es2022',
        outDir,
        emptyOutDir: false,
        minify: false,
        sourcemap: false,
        lib: {
          entry: { 'engine-worker-node': 'src/api/worker/engineWorker.node.ts', 'shard-worker-node': 'src/moe/sharded/shardWorker.node.ts',
            'serve-load-client': 'src/serve/loadClient.ts' },
          formats: ['es'],
        },
        rolldownOptions: { external: ['webgpu', /^node:/] },
      },
    });
    process.env.WEBMOE_WORKER_DIR = outDir;
    return outDir;
  })();
  return built;
}
