// Files of a model folder that are not regular files (a FIFO, a directory, a socket, a device) are named
// errors, never a hang or a raw EISDIR.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/io/checkpoint.js';
import { SourceError } from '../../src/io/error.js';
import { nodeDirSource, nodeFile } from '../../src/io/nodeSource.js';
import { encodeSafetensors } from '../../src/io/safetensors.js';
import { rejection } from './mem.js';

const dir = mkdtempSync(join(tmpdir(), 'webmoe-nodesource-'));
const server = createServer();
const kinds = { fifo: 'a FIFO', folder: 'a directory', socket: 'a socket', device: 'a device' };

beforeAll(async () => {
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  mkdirSync(join(dir, 'folder'));
  await new Promise<void>((done) => server.listen(join(dir, 'socket'), done));
  symlinkSync('/dev/null', join(dir, 'device'));
});
afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

const sourceError = (p: Promise<unknown>) => rejection(p, SourceError);

describe('nodeDirSource: files that are not regular files', () => {
  it('open, text and nodeFile name the path and what it is', async () => {
    const source = nodeDirSource(dir);
    for (const [name, kind] of Object.entries(kinds)) {
      const path = join(dir, name);
      const message = `${path}: is ${kind}, not a regular file`;
      expect((await sourceError(source.open(name))).message).toBe(message);
      expect((await sourceError(source.text(name))).message).toBe(message);
      expect((await sourceError(nodeFile(path))).message).toBe(message);
    }
    expect((await sourceError(nodeFile(join(dir, 'missing')))).message).toBe(`${join(dir, 'missing')}: not found`);
  });

  it('a model folder whose config.json is a FIFO, or whose weights are a directory', async () => {
    const model = join(dir, 'model');
    mkdirSync(model);
    execFileSync('mkfifo', [join(model, 'config.json')]);
    mkdirSync(join(model, 'model.safetensors'));
    const config = join(model, 'config.json');
    expect((await sourceError(openCheckpoint(nodeDirSource(model)))).message).toBe(`${config}: is a FIFO, not a regular file`);
    rmSync(config);
    writeFileSync(config, '{}');
    expect((await sourceError(openCheckpoint(nodeDirSource(model)))).message)
      .toBe(`${join(model, 'model.safetensors')}: is a directory, not a regular file`);
    rmSync(join(model, 'model.safetensors'), { recursive: true });
    writeFileSync(join(model, 'model.safetensors'), encodeSafetensors({}));
    expect((await openCheckpoint(nodeDirSource(model))).tensors.size).toBe(0);
  });
});
