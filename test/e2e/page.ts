// Runs in the test page: runMoE on specs sent from Node as plain data (typed arrays tagged by type).
import { capStorageBinding, createDevice, loadModel, type MoESpec, runMoE } from '../../src/index.js';
import { tileTrial } from './tileTrial.js';

export type Plain = { [k: string]: unknown };

function fromPlain(o: Plain): Plain {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => {
    if (v && typeof v === 'object' && 'f32' in v) return [k, new Float32Array((v as { f32: number[] }).f32)];
    if (v && typeof v === 'object' && 'u16' in v) return [k, new Uint16Array((v as { u16: number[] }).u16)];
    if (v && typeof v === 'object' && !Array.isArray(v)) return [k, fromPlain(v as Plain)];
    return [k, v];
  }));
}

export async function runSpecs(specs: Plain[], bindingLimit?: number) {
  const device = await createDevice();
  if (bindingLimit) capStorageBinding(device, bindingLimit);
  const results = [];
  for (const s of specs) {
    const r = await runMoE(device, fromPlain(s) as unknown as MoESpec);
    results.push({ y: Array.from(r.y), ids: Array.from(r.expertIds) });
  }
  const f16 = device.features.has('shader-f16');
  device.destroy();
  return { results, f16 };
}

/** Loads a model folder by URL (range requests to the dev server: no cache), then logits and a greedy reply. */
export async function runModel(url: string, tokens: number[]) {
  const device = await createDevice();
  let progress = 0;
  const engine = await loadModel(url, { device, cache: 'none', onProgress: (p) => {
    progress = p.loadedBytes / p.totalBytes;
  } });
  const logits = (await engine.logits(tokens)).map((r) => Array.from(r));
  const reply = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }], max_tokens: 5, temperature: 0 });
  engine.dispose();
  device.destroy();
  return { logits, progress, reply: reply.choices[0].message.content };
}

/** Loses the device mid-generation (destroy()): the error the call and a later call get, then a new engine's reply. */
export async function loseDevice(url: string) {
  const device = await createDevice();
  const engine = await loadModel(url, { device, contextLength: 64 });
  const it = engine.generate({ tokens: [1, 2, 3] }, { maxTokens: 20 });
  await it.next();
  device.destroy();
  const named = (e: unknown) => `${(e as Error).name}: ${(e as Error).message}`;
  const during = await it.next().then(() => 'no error', named);
  const after = await engine.logits([1, 2]).then(() => 'no error', named);
  const again = await loadModel(url, { contextLength: 64 });
  const reply = await again.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }], max_tokens: 5, temperature: 0 });
  again.dispose();
  return { during, after, reply: reply.choices[0].message.content };
}

/** tileTrial() twice in the page, then twice in fresh workers, one after the other. */
export async function tileTrials() {
  const inWorker = () =>
    new Promise<Awaited<ReturnType<typeof tileTrial>>>((resolve, reject) => {
      const w = new Worker(new URL('./tilesWorker.ts', import.meta.url), { type: 'module' });
      w.onmessage = (e) => {
        w.terminate();
        resolve(e.data);
      };
      w.onerror = (e) => {
        w.terminate();
        reject(new Error(e.message));
      };
      w.postMessage(null);
    });
  return { page: [await tileTrial(), await tileTrial()], worker: [await inWorker(), await inWorker()] };
}

Object.assign(globalThis, { runSpecs, runModel, loseDevice, tileTrials });
