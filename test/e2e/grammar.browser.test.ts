// Structured output in Chromium: xgrammar (WASM, a UMD file) loads through Vite as a browser app gets
// it, and the reply equals the one in Node (the same mask each step, the same greedy tokens); the same
// in WebLLM's worker engine, which a WebLLM app makes with CreateWebWorkerMLCEngine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/api/engine.js';
import { nodeDirSource } from '../../src/io/nodeSource.js';
import '../../src/platform/nodeXGrammar.js';
import { testDevice } from '../helpers/gpu.js';
import { modelDir } from '../helpers/models.js';
import { type BrowserPage, openPage } from './browser.js';
import type { structuredReply, webllmWorker } from './grammar.js';

const schema = { type: 'object', properties: { name: { type: 'string', maxLength: 8 }, ok: { type: 'boolean' } }, required: ['name', 'ok'] };

let browser: BrowserPage;
beforeAll(async () => {
  browser = await openPage('test/e2e/grammar.html');
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

describe('structured output in Chromium', () => {
  it('a JSON-schema reply parses and equals the Node reply', async () => {
    await browser.page.waitForFunction(() => 'structuredReply' in globalThis);
    const got = await browser.page.evaluate(
      ({ url, schema }) => (globalThis as unknown as { structuredReply: typeof structuredReply }).structuredReply(url, schema),
      { url: new URL(`/${modelDir('mixtral')}/`, browser.page.url()).href, schema },
    );
    expect(got.finish).toBe('stop');
    expect(Object.keys(JSON.parse(got.content!))).toEqual(['name', 'ok']);
    const device = await testDevice();
    const engine = await Engine.load(device, nodeDirSource(modelDir('mixtral')));
    const reply = await engine.chat.completions.create({
      messages: [{ role: 'user', content: 'Hi' }],
      max_tokens: 150,
      temperature: 0,
      response_format: { type: 'json_schema', json_schema: { name: 'thing', schema } },
    });
    expect(got.content).toBe(reply.choices[0].message.content);
    engine.dispose();
    device.destroy();
  });

  it('CreateWebWorkerMLCEngine: a WebLLM app\'s worker engine streams the same JSON, interrupts, resets', async () => {
    await browser.page.waitForFunction(() => 'webllmWorker' in globalThis);
    const got = await browser.page.evaluate(
      ({ url, schema }) => (globalThis as unknown as { webllmWorker: typeof webllmWorker }).webllmWorker(url, schema),
      { url: new URL(`/${modelDir('mixtral')}/`, browser.page.url()).href, schema },
    );
    expect(got.progress).toBe(1);
    const page = await browser.page.evaluate(
      ({ url, schema }) => (globalThis as unknown as { structuredReply: typeof structuredReply }).structuredReply(url, schema),
      { url: new URL(`/${modelDir('mixtral')}/`, browser.page.url()).href, schema },
    );
    expect(got.content).toBe(page.content);
    expect(got.message).toBe(got.content);
    expect(got.completionTokens).toBeGreaterThan(0);
    expect(got.pieces).toBe(3); // two tokens, then the ending chunk
  });
});
