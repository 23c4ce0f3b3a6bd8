// The import graph: `webmoe` must load in a browser (nothing reachable from src/index.ts imports Node
// modules or Dawn), and every import points down the layers of the design (gpu → weights → kernels →
// moe → model → api, entry points on top, bench/ and serve/ beside), never up.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

function imports(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  return [...src.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1]);
}

const local = (file: string, spec: string) => resolve(dirname(file), spec.replace(/\.js$/, '.ts'));

function reachable(entry: string): { files: Set<string>; bare: Set<string> } {
  const files = new Set<string>();
  const bare = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const spec of imports(file)) {
      if (!spec.startsWith('.')) bare.add(spec);
      else visit(local(file, spec));
    }
  };
  visit(resolve(entry));
  return { files, bare };
}

/**
 * Layers, lowest first: a file may import from its own folder or from a lower layer. gpu/ and
 * platform/ (starting workers) are the ground; io/ reads checkpoints; weights/ stores them on the GPU;
 * kernels/ launch WGSL; moe/ and model/ orchestrate; api/ is what users hold; bench/ measures all of
 * it; serve/ puts the engine on HTTP; the entry points (index.ts, node.ts, cli.ts, cli/) sit on top.
 */
const LAYERS: Record<string, number> = { gpu: 0, platform: 0, io: 1, weights: 2, kernels: 3, moe: 4, model: 5, api: 6, bench: 7, serve: 7, entry: 8 };

/** The layer name of a file under src/: its top folder, or 'entry' for the files at the top and cli/. */
function layerOf(file: string): string {
  const [top, ...rest] = relative(resolve('src'), file).split('/');
  return rest.length === 0 || top === 'cli' ? 'entry' : top;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? sourceFiles(join(dir, d.name)) : d.name.endsWith('.ts') ? [resolve(dir, d.name)] : []
  );
}

describe('package entry points', () => {
  it('webmoe imports no Node module and no Dawn: only the browser-safe tokenizer, template, grammar and worker packages', () => {
    const { files, bare } = reachable('src/index.ts');
    expect(files.size).toBeGreaterThan(10);
    expect([...bare].sort()).toEqual(['@huggingface/jinja', '@huggingface/tokenizers', '@mlc-ai/web-xgrammar', 'comlink']);
  });

  it('webmoe/node adds only Dawn (loaded on demand), comlink\'s worker_threads adapter and Node built-ins', () => {
    const extra = [...reachable('src/node.ts').bare].filter((s) => !reachable('src/index.ts').bare.has(s));
    expect(extra.filter((s) => !s.startsWith('node:')).sort()).toEqual(['comlink/dist/esm/node-adapter.mjs', 'webgpu']);
  });
});

describe('layers', () => {
  const files = sourceFiles('src');

  it('every source file is in a known layer', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(files.map(layerOf).filter((l) => !(l in LAYERS))).toEqual([]);
  });

  it('no import points up a layer, or sideways into another folder of the same layer', () => {
    const upward: string[] = [];
    for (const file of files) {
      const from = layerOf(file);
      for (const spec of imports(file).filter((s) => s.startsWith('.'))) {
        const to = layerOf(local(file, spec));
        if (to === from ? false : LAYERS[to] >= LAYERS[from]) upward.push(`${relative('src', file)} (${from}) → ${spec} (${to})`);
      }
    }
    expect(upward).toEqual([]);
  });
});
