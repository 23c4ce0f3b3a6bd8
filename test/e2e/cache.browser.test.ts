// loadModel(url) in Chromium keeps a model's files (Cache API by default, OPFS on request): a reload
// reads no weight from the network and gives the same logits; cached models are listed with their
// sizes and deleted; a full quota is a StorageQuotaError naming the file, and keeps nothing.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CachedModel, ModelCache } from '../../src/index.js';
import { relativeError } from '../../src/moe/reference.js';
import { golden, modelDir } from '../helpers/models.js';
import { type BrowserPage, openPage } from './browser.js';
import type { load, loadError, loadFiles, loadInWorker } from './cache.js';

interface Page {
  load: typeof load;
  loadError: typeof loadError;
  loadFiles: typeof loadFiles;
  loadInWorker: typeof loadInWorker;
  listCachedModels(): Promise<CachedModel[]>;
  deleteCachedModel(url: string): Promise<boolean>;
}

const MODEL = 'mixtral'; // two safetensors shards and an index
const FILES = ['config.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json', 'tokenizer.json',
  'tokenizer_config.json'];

let browser: BrowserPage;
let url: string;
/** Model files the page asked the network for. */
let fetched: string[] = [];
beforeAll(async () => {
  browser = await openPage('test/e2e/cache.html');
  url = new URL(`/${modelDir(MODEL)}/`, browser.page.url()).href;
  browser.page.on('request', (r) => {
    if (r.url().startsWith(url)) fetched.push(r.url().slice(url.length));
  });
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

interface Arg {
  url: string;
  cache?: ModelCache;
  tokens: number[];
  files?: Record<string, string>;
}

async function inPage<R>(f: (p: Page, arg: Arg) => Promise<R>, cache?: ModelCache, files?: Record<string, string>): Promise<R> {
  await browser.page.waitForFunction(() => 'load' in globalThis);
  return browser.page.evaluate(
    `(${f.toString()})(globalThis, ${JSON.stringify({ url, cache, tokens: golden(MODEL).tokens, files })})`,
  ) as Promise<R>;
}

// Each test starts with nothing cached.
beforeEach(async () => {
  await inPage((p, a) => p.deleteCachedModel(a.url));
  fetched = [];
});

const weightsFetched = () => fetched.filter((f) => f.endsWith('.safetensors')).sort();

describe('loadModel(url) caches the model in the browser', () => {
  for (const cache of [undefined, 'opfs'] as const) {
    it(`${cache ?? 'by default, in the Cache API'}: a reload reads no weight from the network; listed, then deleted`, async () => {
      const first = await inPage((p, a) => p.load(a.url, a.cache, a.tokens), cache);
      expect(first.downloaded).toEqual(FILES);
      expect(weightsFetched()).toEqual(FILES.filter((f) => f.endsWith('.safetensors')));
      first.logits.forEach((row, t) => expect(relativeError(row, golden(MODEL).logits[t])).toBeLessThan(1e-4));

      await browser.page.reload();
      fetched = [];
      const again = await inPage((p, a) => p.load(a.url, a.cache, a.tokens), cache);
      expect(again.downloaded).toEqual([]);
      expect(weightsFetched()).toEqual([]);
      expect(again.logits).toEqual(first.logits);

      const listed = (await inPage((p) => p.listCachedModels())).filter((m) => m.url === url);
      const files = FILES.map((name) => ({ name, bytes: statSync(join(modelDir(MODEL), name)).size }));
      expect(listed).toHaveLength(1);
      expect(listed[0].storage).toBe(cache ?? 'cache-api');
      expect([...listed[0].files].sort((a, b) => a.name < b.name ? -1 : 1)).toEqual(files);
      expect(listed[0].bytes).toBe(files.reduce((n, f) => n + f.bytes, 0));

      expect(await inPage((p, a) => p.deleteCachedModel(a.url))).toBe(true);
      expect((await inPage((p) => p.listCachedModels())).filter((m) => m.url === url)).toEqual([]);
      expect(await inPage((p, a) => p.deleteCachedModel(a.url))).toBe(false);
      fetched = [];
      expect((await inPage((p, a) => p.load(a.url, a.cache, a.tokens), cache)).downloaded).toEqual(FILES);
      expect(weightsFetched()).toHaveLength(2);
    });
  }

  it('in an engine worker (the app\'s own, with exposeEngine): cached the same, download progress reaching the page', async () => {
    const first = await inPage((p, a) => p.loadInWorker(a.url, a.tokens));
    expect(first.downloaded).toEqual(FILES);
    expect(weightsFetched()).toHaveLength(2); // the worker's requests are the page's to count
    first.logits.forEach((row, t) => expect(relativeError(row, golden(MODEL).logits[t])).toBeLessThan(1e-4));
    await browser.page.reload();
    fetched = [];
    const again = await inPage((p, a) => p.loadInWorker(a.url, a.tokens));
    expect(again.downloaded).toEqual([]);
    expect(weightsFetched()).toEqual([]);
    expect(again.logits).toEqual(first.logits);
    expect((await inPage((p) => p.listCachedModels())).filter((m) => m.url === url).map((m) => m.storage)).toEqual(['cache-api']);
  });

  it('a URL for each file (one a data: URL), as bundlers emit them: each cached from its folder', async () => {
    // config.json inlined, the rest at URLs of their own (the fixture's, as a bundler's assets folder).
    const files = Object.fromEntries(FILES.map((f) => [f, `${url}${f}`]));
    files['config.json'] = `data:application/json;base64,${readFileSync(join(modelDir(MODEL), 'config.json')).toString('base64')}`;
    const first = await inPage((p, a) => p.loadFiles(a.files!, a.tokens), undefined, files);
    expect(first.downloaded).toEqual(FILES.filter((f) => f !== 'config.json'));
    first.logits.forEach((row, t) => expect(relativeError(row, golden(MODEL).logits[t])).toBeLessThan(1e-4));
    fetched = [];
    const again = await inPage((p, a) => p.loadFiles(a.files!, a.tokens), undefined, files);
    expect(again.downloaded).toEqual([]);
    expect(weightsFetched()).toEqual([]);
    expect(again.logits).toEqual(first.logits);
  });

  it('cache: \'none\' keeps nothing', async () => {
    await inPage((p, a) => p.load(a.url, a.cache, a.tokens), 'none');
    expect((await inPage((p) => p.listCachedModels())).filter((m) => m.url === url)).toEqual([]);
  });

  for (const cache of ['cache-api', 'opfs'] as const) {
    it(`${cache}: a full quota is a StorageQuotaError naming the file, and keeps no weights`, async () => {
      const cdp = await browser.page.context().newCDPSession(browser.page);
      const origin = new URL(url).origin;
      await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 100_000 }); // below one shard
      try {
        const err = await inPage((p, a) => p.loadError(a.url, a.cache!), cache);
        expect(err?.name).toBe('StorageQuotaError');
        const store = cache === 'opfs' ? 'OPFS' : 'Cache API';
        expect(err?.message).toMatch(
          new RegExp(`^${url}[\\w.-]+: the browser's storage quota for this site is full \\(\\d+ MB used of \\d+ MB\\), so the ${store} cannot keep this file`),
        );
      } finally {
        await cdp.send('Storage.overrideQuotaForOrigin', { origin });
      }
      const kept = (await inPage((p) => p.listCachedModels())).filter((m) => m.url === url).flatMap((m) => m.files.map((f) => f.name));
      expect(kept.filter((f) => f.endsWith('.safetensors'))).toEqual([]);
    });
  }
});
