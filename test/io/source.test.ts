import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { openCheckpoint, readRows, streamTensors } from '../../src/io/checkpoint.js';
import { decodeToF32 } from '../../src/io/dtype.js';
import { SourceError } from '../../src/io/error.js';
import { encodeSafetensors, readSafetensorsHeader, SafetensorsError } from '../../src/io/safetensors.js';
import { fileListSource, type ModelSource, readRange, urlSource } from '../../src/io/source.js';
import { Rng } from '../ref/rng.js';
import { collector, floatTensor } from './mem.js';

const rng = new Rng(10);
const w = floatTensor(rng, 'F16', [40, 24]);
const v = floatTensor(rng, 'BF16', [9]);
const model = encodeSafetensors({ w: w.tensor, skipped: floatTensor(rng, 'F32', [100]).tensor, v: v.tensor });
const big = new Uint8Array(1 << 20).map((_, i) => (i * 7) & 0xff);
const files: Record<string, Uint8Array<ArrayBuffer>> = {
  'config.json': new TextEncoder().encode('{"model_type":"test"}'),
  'model.safetensors': model,
  'big.bin': big,
};

const page = '<!DOCTYPE html>\n<html><body><div id="app"></div></body></html>';

/**
 * Serves `files` under /range/ (Range → 206), /norange/ (Range ignored → 200, body in 64 KiB writes),
 * /nohead/ (HEAD refused, Range honoured) and /broken/ (500); /spa/ answers a missing file with an HTML
 * page (status 200, text/html), /sniff/ with the same page and no Content-Type.
 */
function handle(req: IncomingMessage, res: ServerResponse): void {
  const [, mode, name] = req.url!.split('/');
  const body = files[name];
  if (mode === 'broken') return void res.writeHead(500).end();
  if (!body && (mode === 'spa' || mode === 'sniff')) {
    res.writeHead(200, { 'Content-Length': page.length, ...(mode === 'spa' ? { 'Content-Type': 'text/html; charset=utf-8' } : {}) });
    return void res.end(req.method === 'HEAD' ? undefined : page);
  }
  if (!body) return void res.writeHead(404).end();
  if (req.method === 'HEAD') {
    if (mode === 'nohead') return void res.writeHead(405).end();
    return void res.writeHead(200, { 'Content-Length': body.length }).end();
  }
  const range = req.headers.range?.match(/^bytes=(\d+)-(\d+)$/);
  if (range && mode !== 'norange') {
    const [start, end] = [Number(range[1]), Math.min(Number(range[2]), body.length - 1)];
    res.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${body.length}`, 'Content-Length': end - start + 1 });
    return void res.end(body.subarray(start, end + 1));
  }
  res.writeHead(200, { 'Content-Length': body.length });
  let at = 0;
  const write = () => {
    while (at < body.length) {
      const piece = body.subarray(at, at += 1 << 16);
      if (!res.write(piece)) return void res.once('drain', write);
    }
    res.end();
  };
  res.on('close', () => {
    at = body.length;
  });
  write();
}

let server: Server;
let base: string;
beforeAll(async () => {
  server = createServer(handle);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((done) => server.close(() => done())));

/** toEqual walks typed arrays element by element: slow for a MiB. */
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

async function loadWV(source: ModelSource, pieceBytes: number) {
  const ckpt = await openCheckpoint(source);
  const [cw, cv] = [collector([40, 24]), collector([9])];
  await streamTensors(ckpt, new Map([['w', cw.sink], ['v', cv.sink]]), { pieceBytes });
  return [cw.out, cv.out];
}

describe('urlSource', () => {
  for (const mode of ['range', 'norange', 'nohead']) {
    it(`${mode}: sizes, ranges, text, a checkpoint`, async () => {
      const source = urlSource(`${base}/${mode}`);
      expect(source.name).toBe(`${base}/${mode}/`);
      const f = (await source.open('big.bin'))!;
      expect(f.size).toBe(big.length);
      for (const [start, end] of [[0, 1], [5, 70_000], [200_000, big.length], [big.length - 3, big.length], [7, 7]]) {
        expect(same(await readRange(f, start, end), big.subarray(start, end)), `${start}-${end}`).toBe(true);
      }
      expect(await source.text('config.json')).toBe('{"model_type":"test"}');
      expect(await source.open('missing.bin')).toBeUndefined();
      expect(await source.text('missing.json')).toBeUndefined();
      expect(await loadWV(source, 100)).toEqual([w.values, v.values]);
      const rows = await readRows(await openCheckpoint(source), 'w', 17, 5);
      expect([rows.dtype, ...decodeToF32(rows.bytes, rows.dtype, 'w')]).toEqual([w.tensor.dtype, ...w.values.subarray(17 * 24, 22 * 24)]);
    });
  }

  it('HTTP errors name the URL and the status', async () => {
    const source = urlSource(`${base}/broken/`);
    await expect(source.open('model.safetensors')).rejects.toThrow(`${base}/broken/model.safetensors: HTTP 500`);
    await expect(source.text('config.json')).rejects.toThrow(`${base}/broken/config.json: HTTP 500`);
  });

  it('abort mid-stream rejects', async () => {
    for (const mode of ['range', 'norange']) {
      const f = (await urlSource(`${base}/${mode}`).open('big.bin'))!;
      const controller = new AbortController();
      let got = 0;
      const read = (async () => {
        for await (const piece of f.stream(0, f.size, controller.signal)) {
          got += piece.length;
          controller.abort();
        }
      })();
      await expect(read, mode).rejects.toMatchObject({ name: 'AbortError' });
      expect(got).toBeLessThan(big.length);
    }
  });

  it('without Range support, reads only up to the end of the range, then cancels', async () => {
    let pulled = 0;
    let cancelled = false;
    const fake: typeof fetch = async (_input, init) => {
      if (init?.method === 'HEAD') return new Response(null, { headers: { 'Content-Length': String(big.length) } });
      return new Response(new ReadableStream<Uint8Array>({
        pull(c) {
          c.enqueue(big.slice(pulled, pulled += 1000));
        },
        cancel() {
          cancelled = true;
        },
      }, { highWaterMark: 0 }), { status: 200 });
    };
    const f = (await urlSource('http://example.test/m', { fetch: fake }).open('big.bin'))!;
    expect(await readRange(f, 2500, 3100)).toEqual(big.subarray(2500, 3100));
    expect(pulled).toBeLessThanOrEqual(4000);
    expect(cancelled).toBe(true);
  });

  it('sends the given headers and resolves names against the base URL', async () => {
    const seen: [string, Record<string, string>][] = [];
    const fake: typeof fetch = async (input, init) => {
      seen.push([String(input), init?.headers as Record<string, string>]);
      return new Response('{}', { headers: { 'Content-Length': '2' } });
    };
    const source = urlSource('https://hf.example/org/model/resolve/main', { fetch: fake, headers: { Authorization: 'Bearer t' } });
    await source.text('config.json');
    await readRange((await source.open('sub/x.bin'))!, 0, 2);
    expect(seen).toEqual([
      ['https://hf.example/org/model/resolve/main/config.json', { Authorization: 'Bearer t' }],
      ['https://hf.example/org/model/resolve/main/sub/x.bin', { Authorization: 'Bearer t' }],
      ['https://hf.example/org/model/resolve/main/sub/x.bin', { Authorization: 'Bearer t', Range: 'bytes=0-1' }],
    ]);
  });
});

describe('urlSource: an HTML page where a file was asked (an SPA fallback)', () => {
  it('optional files are missing; the checkpoint loads from what exists', async () => {
    for (const mode of ['spa', 'sniff']) {
      const source = urlSource(`${base}/${mode}`);
      expect(await source.text('chat_template.jinja'), mode).toBeUndefined();
      expect(await source.text('model.safetensors.index.json'), mode).toBeUndefined();
      expect(await source.text('tokenizer_config.json'), mode).toBeUndefined();
      expect(await source.text('config.json'), mode).toBe('{"model_type":"test"}');
      expect(await loadWV(source, 100), mode).toEqual([w.values, v.values]);
    }
    expect(await urlSource(`${base}/spa`).open('missing.safetensors')).toBeUndefined();
  });

  it('a required file is an error naming its URL', async () => {
    const err = await openCheckpoint(urlSource(`${base}/spa/nested`)).catch((e) => e);
    expect(err).toBeInstanceOf(SafetensorsError);
    expect(err.message).toBe(`${base}/spa/nested/config.json: not found`);
    // Without a Content-Type the HEAD cannot tell; the bytes then can.
    const f = (await urlSource(`${base}/sniff`).open('missing.safetensors'))!;
    await expect(readSafetensorsHeader('missing.safetensors', f)).rejects.toThrow('missing.safetensors: is an HTML page, not a safetensors file');
  });

  it('a range answered with an HTML page is an error naming the URL', async () => {
    const fake: typeof fetch = async (_input, init) =>
      init?.method === 'HEAD'
        ? new Response(null, { headers: { 'Content-Length': '100' } })
        : new Response(page, { headers: { 'Content-Type': 'text/html' } });
    const f = (await urlSource('http://example.test/m', { fetch: fake }).open('model.safetensors'))!;
    const err = await readRange(f, 0, 8).catch((e) => e);
    expect(err).toBeInstanceOf(SourceError);
    expect(err.message).toBe('http://example.test/m/model.safetensors: the server answered with an HTML page, not the file');
  });
});

describe('urlSource: no answer', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });
  const failing: typeof fetch = async () => {
    throw new TypeError('Failed to fetch');
  };

  it('names the URL (Node: no page, no CORS)', async () => {
    const err = await urlSource('http://example.test/m', { fetch: failing }).text('config.json').catch((e) => e);
    expect(err).toBeInstanceOf(SourceError);
    expect(err.message).toBe('http://example.test/m/config.json: no answer (Failed to fetch): the server is unreachable or offline');
  });

  it('a refused connection names the URL and the cause', async () => {
    const closed = createServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((done) => closed.close(() => done()));
    const err = await urlSource(url).open('model.safetensors').catch((e) => e);
    expect(err).toBeInstanceOf(SourceError);
    expect(err.message).toBe(`${url}/model.safetensors: no answer (fetch failed: ECONNREFUSED): the server is unreachable or offline`);
  });

  it('in a page, another origin suggests CORS; the same origin does not', async () => {
    vi.stubGlobal('location', { href: 'https://page.test/app/', origin: 'https://page.test' });
    const other = await urlSource('https://models.test/m', { fetch: failing }).text('config.json').catch((e) => e);
    expect(other.message).toBe('https://models.test/m/config.json: no answer (Failed to fetch): the server is unreachable or offline, '
      + 'or it does not allow this page (https://page.test) to read it: CORS headers missing');
    const same = await urlSource('models/m', { fetch: failing }).text('config.json').catch((e) => e);
    expect(same.message).toBe('https://page.test/app/models/m/config.json: no answer (Failed to fetch): the server is unreachable or offline');
  });

  it('an abort stays an abort', async () => {
    const controller = new AbortController();
    controller.abort();
    const aborting: typeof fetch = async (_input, init) => {
      init?.signal?.throwIfAborted();
      throw new TypeError('unreachable');
    };
    await expect(urlSource('http://example.test/m', { fetch: aborting }).text('config.json', controller.signal)).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('fileListSource', () => {
  const named = (data: Uint8Array<ArrayBuffer>, path: string) => {
    const file = new File([data], path.split('/').at(-1)!);
    Object.defineProperty(file, 'webkitRelativePath', { value: path });
    return file;
  };

  it('loads a checkpoint from File objects; the shallowest of equal names wins', async () => {
    const source = fileListSource([
      named(new TextEncoder().encode('{"nested":true}'), 'mymodel/.git/config.json'),
      named(files['config.json'], 'mymodel/config.json'),
      named(model, 'mymodel/model.safetensors'),
    ]);
    expect(source.name).toBe('mymodel');
    expect(await source.text('config.json')).toBe('{"model_type":"test"}');
    expect(await source.open('missing')).toBeUndefined();
    expect(await loadWV(source, 50)).toEqual([w.values, v.values]);
  });

  it('plain File objects by name', async () => {
    const source = fileListSource([new File([big], 'big.bin')]);
    expect(same(await readRange((await source.open('big.bin'))!, 100, 200_000), big.subarray(100, 200_000))).toBe(true);
  });
});
