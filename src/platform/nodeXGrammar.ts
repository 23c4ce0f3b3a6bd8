// @mlc-ai/web-xgrammar in Node: its UMD file sits in a "type": "module" package, so Node's loaders
// refuse it (ESM: its `require` is undefined; require(): it is an ES module). Run its text as the
// CommonJS module it is written as. Its one dynamic import (Node's 'module') goes through a function
// we pass: code made by `new Function` has no import() of its own under a VM loader (vitest's).
// Importing this file installs the loader (webmoe/node does).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setXGrammarLoader } from './xgrammar.js';

setXGrammarLoader(async () => {
  const file = fileURLToPath(import.meta.resolve('@mlc-ai/web-xgrammar'));
  const module = { exports: {} };
  const source = readFileSync(file, 'utf8').replaceAll('import(\'module\')', 'importModule(\'module\')');
  const run = new Function('exports', 'module', 'require', '__filename', '__dirname', 'importModule', source) as (...args: unknown[]) => void;
  run.call(module.exports, module.exports, module, createRequire(file), file, dirname(file), (name: string) => import(name));
  return module.exports as typeof import('@mlc-ai/web-xgrammar');
});
