// The `webmoe` entry in a real browser (Chromium, SwiftShader: no shader-f16, 1 GiB bindings),
// checked against the float64 reference in Node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MoESpec } from '../../src/index.js';
import { randomRouting, randomSpec } from '../helpers/spec.js';
import { referenceMoE, relativeError } from '../../src/moe/reference.js';
import { Rng } from '../ref/rng.js';
import { type BrowserPage, openPage } from './browser.js';
import type { loseDevice, Plain, runModel, runSpecs, tileTrials } from './page.js';
import { Engine } from '../../src/api/engine.js';
import { nodeDirSource } from '../../src/io/nodeSource.js';
import { testDevice } from '../helpers/gpu.js';
import { golden, modelDir } from '../helpers/models.js';

/** Typed arrays do not cross page.evaluate: send them as tagged plain arrays. */
function toPlain(s: MoESpec): Plain {
  const out: Plain = {};
  for (const [k, v] of Object.entries(s)) {
    if (v instanceof Float32Array) out[k] = { f32: Array.from(v) };
    else if (v instanceof Uint16Array) out[k] = { u16: Array.from(v) };
    else if (v && typeof v === 'object' && !Array.isArray(v)) out[k] = toPlain(v as MoESpec);
    else out[k] = v;
  }
  return out;
}

let browser: BrowserPage;
beforeAll(async () => {
  browser = await openPage();
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

async function runInBrowser(specs: MoESpec[], bindingLimit?: number): Promise<Awaited<ReturnType<typeof runSpecs>>> {
  await browser.page.waitForFunction(() => 'runSpecs' in globalThis);
  return browser.page.evaluate(
    ({ specs, bindingLimit }) => (globalThis as unknown as { runSpecs: typeof runSpecs }).runSpecs(specs, bindingLimit),
    { specs: specs.map(toPlain), bindingLimit },
  );
}

function expectMatches(s: MoESpec, got: { y: number[]; ids: number[] }, tol: number) {
  const ref = referenceMoE(s, got.ids);
  expect(ref.rejected).toEqual([]);
  expect(relativeError(got.y, ref.y)).toBeLessThanOrEqual(tol);
}

describe('webmoe in Chromium (SwiftShader)', () => {
  it('routing variants, decode and prefill paths, f32 and f16 weights without shader-f16', async () => {
    const rng = new Rng(71);
    const specs = [1, 7, 64].flatMap((tokens) => [
      randomSpec(rng, { tokens, numExperts: 8, ...randomRouting(rng, 8) }),
      randomSpec(rng, { tokens, numExperts: 32, topK: 4, dtype: 'f16' }),
    ]);
    const shared = randomSpec(rng, { tokens: 7, numExperts: 4, topK: 2 });
    shared.shared = { intermediate: 9, gateUp: rng.array(18 * shared.hidden), down: rng.array(shared.hidden * 9), gate: rng.array(shared.hidden) };
    specs.push(shared);
    const { results, f16 } = await runInBrowser(specs);
    expect(f16).toBe(false);
    specs.forEach((s, i) => expectMatches(s, results[i], s.dtype === 'f16' ? 3e-3 : 1e-5));
  });

  it('weights split over 64 KiB bindings', async () => {
    const rng = new Rng(72);
    const s = randomSpec(rng, { tokens: 7, numExperts: 8, topK: 2, hidden: 40, intermediate: 60 });
    const { results } = await runInBrowser([s], 64 << 10);
    expectMatches(s, results[0], 1e-5);
  });
});

describe('a model in Chromium', () => {
  it('loads a sharded checkpoint by URL, matches the golden logits and the Node reply', async () => {
    const g = golden('mixtral');
    await browser.page.waitForFunction(() => 'runModel' in globalThis);
    const got = await browser.page.evaluate(
      ({ url, tokens }) => (globalThis as unknown as { runModel: typeof runModel }).runModel(url, tokens),
      { url: new URL(`/${modelDir('mixtral')}/`, browser.page.url()).href, tokens: g.tokens },
    );
    expect(got.progress).toBe(1);
    got.logits.forEach((row, t) => expect(relativeError(row, g.logits[t])).toBeLessThan(1e-4));
    const device = await testDevice();
    const engine = await Engine.load(device, nodeDirSource(modelDir('mixtral')));
    const reply = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }], max_tokens: 5, temperature: 0 });
    expect(got.reply).toBe(reply.choices[0].message.content);
    engine.dispose();
    device.destroy();
  });

  it('a device lost mid-generation: DeviceLostError, then a new engine on a new device', async () => {
    await browser.page.waitForFunction(() => 'loseDevice' in globalThis);
    const got = await browser.page.evaluate(
      (url) => (globalThis as unknown as { loseDevice: typeof loseDevice }).loseDevice(url),
      new URL(`/${modelDir('mixtral')}/`, browser.page.url()).href,
    );
    expect(got.during).toMatch(/^DeviceLostError: webmoe: the GPU device was destroyed.*load the model again on a new device/);
    expect(got.after).toMatch(/^DeviceLostError/);
    expect(got.reply).toBeTruthy();
  });
});

describe('tile choices in Chromium', () => {
  it('are kept across devices: in localStorage in a page, in IndexedDB in a worker', async () => {
    await browser.page.waitForFunction(() => 'tileTrials' in globalThis);
    const got = await browser.page.evaluate(() => (globalThis as unknown as { tileTrials: typeof tileTrials }).tileTrials());
    for (const [first, second] of [got.page, got.worker]) {
      expect(first.timed).toBeGreaterThan(0); // every candidate, or the default alone where compiles are slow
      expect(second).toEqual({ timed: 0, chosen: first.chosen }); // read back: no trial
    }
  });
});
