// The benchmark page's peers (Vite plugin, build time): the bench/peers/ modules that run on a GPUDevice
// they are given (tfjs.mjs, ort.mjs; not the onnxruntime-node ones), as the virtual module
// `virtual:webmoe-bench-peers`. Their packages live in bench/peers/node_modules, installed apart and never
// this package's dependencies; a build without them still works, and the page says what to install.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'vite';

const ID = 'virtual:webmoe-bench-peers';
const PEERS = fileURLToPath(new URL('../../bench/peers/', import.meta.url));
/** What the page's peers import (bench/peers/package.json's versions); CI installs only these. */
export const PAGE_PEER_PACKAGES = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-webgpu', 'onnxruntime-web'];
const PAGE_PEER_FILES = ['tfjs.mjs', 'ort.mjs'];

export function benchPeers(): Plugin {
  return {
    name: 'webmoe-bench-peers',
    resolveId: (id) => (id === ID ? `\0${ID}` : undefined),
    load(id) {
      if (id !== `\0${ID}`) return;
      const manifest = (p: string) => `${PEERS}node_modules/${p}/package.json`;
      const missing = PAGE_PEER_PACKAGES.filter((p) => !existsSync(manifest(p)));
      const versions = Object.fromEntries(PAGE_PEER_PACKAGES.filter((p) => !missing.includes(p))
        .map((p) => [p, (JSON.parse(readFileSync(manifest(p), 'utf8')) as { version: string }).version]));
      // Loaded when a run asks for them: onnxruntime-web's wasm is tens of MB.
      const imports = PAGE_PEER_FILES.map((f) => `import(${JSON.stringify(PEERS + f)})`).join(', ');
      return `export const missing = ${JSON.stringify(missing)};\n` +
        `export const versions = ${JSON.stringify(versions)};\n` +
        `export const loadPeers = ${missing.length ? 'undefined' : `() => Promise.all([${imports}])`};\n`;
    },
  };
}
