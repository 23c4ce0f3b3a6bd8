// webmoe/bundled-model names every file of the bundled model's folder, each at its place in the package
// (an app's bundler emits exactly these files: one left out would be missing in the app).
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bundledModelFiles } from '../../src/bundledModel.js';
import { bundledModelDir } from '../../src/node.js';

describe('webmoe/bundled-model', () => {
  it('lists the bundled model folder\'s files, each at its path in the package', () => {
    expect(Object.keys(bundledModelFiles).sort()).toEqual(readdirSync(bundledModelDir).sort());
    for (const [name, url] of Object.entries(bundledModelFiles)) {
      const path = fileURLToPath(url);
      expect(path.endsWith(`/public/models/austen-moe/${name}`)).toBe(true);
      expect(existsSync(path)).toBe(true);
    }
  });
});
