// `webmoe` must load in a browser: nothing reachable from src/index.ts may import Node modules or Dawn.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

function imports(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  return [...src.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1]);
}

function reachable(entry: string): { files: Set<string>; bare: Set<string> } {
  const files = new Set<string>();
  const bare = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const spec of imports(file)) {
      if (!spec.startsWith('.')) bare.add(spec);
      else if (!spec.includes('?raw')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
    }
  };
  visit(resolve(entry));
  return { files, bare };
}

describe('package entry points', () => {
  it('webmoe imports no Node module and no Dawn: only the browser-safe tokenizer, template and worker packages', () => {
    const { files, bare } = reachable('src/index.ts');
    expect(files.size).toBeGreaterThan(10);
    expect([...bare].sort()).toEqual(['@huggingface/jinja', '@huggingface/tokenizers', 'comlink']);
  });

  it('webmoe/node adds only Dawn (loaded on demand), comlink\'s worker_threads adapter and Node built-ins', () => {
    const extra = [...reachable('src/node.ts').bare].filter((s) => !reachable('src/index.ts').bare.has(s));
    expect(extra.filter((s) => !s.startsWith('node:')).sort()).toEqual(['comlink/dist/esm/node-adapter.mjs', 'webgpu']);
  });
});
