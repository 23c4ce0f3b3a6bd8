// The newer families in Chromium (SwiftShader: no shader-f16, 1 GiB bindings), each fixture loaded by
// URL through loadModel as a web app would: its logits of every position against the golden float64
// ones. DeepSeek-V3's multi-head latent attention and noaux_tc routing; gpt-oss's MXFP4 experts
// decoded in the kernels, sinks, sliding layers and YaRN. With the expert cache at its minimum (topK
// experts; each miss read from the URL by range requests): the same logits, bit for bit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { relativeError } from '../../src/moe/reference.js';
import { swigluExpertBytes } from '../../src/weights/matrix.js';
import { golden, modelDir } from '../helpers/models.js';
import { type BrowserPage, openPage } from './browser.js';
import type { runSharded } from './experts.js';

let browser: BrowserPage;
beforeAll(async () => {
  browser = await openPage('test/e2e/experts.html');
  await browser.page.waitForFunction(() => 'runSharded' in globalThis);
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

describe('newer families loaded by URL in Chromium', () => {
  const expertBytes = { deepseek_v3: swigluExpertBytes(64, 16, 'f32'), gpt_oss_mxfp4: swigluExpertBytes(64, 32, 'mxfp4') };
  for (const name of ['deepseek_v3', 'gpt_oss_mxfp4'] as const) {
    it(`${name}: the golden logits, and the same with the expert cache`, async () => {
      const g = golden(name);
      const configs = [{ expertCacheBytes: 2 * expertBytes[name], hostCacheBytes: 0 }];
      const { fused, runs } = await browser.page.evaluate(
        ({ url, tokens, configs }) => (globalThis as unknown as { runSharded: typeof runSharded }).runSharded(url, tokens, configs),
        { url: new URL(`/${modelDir(name)}/`, browser.page.url()).href, tokens: g.tokens, configs },
      );
      fused.forEach((row, t) => expect(relativeError(row, g.logits[t]), `position ${t}`).toBeLessThan(1e-4));
      expect(runs[0].logits).toEqual(fused);
    }, 120_000);
  }
});
