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

Object.assign(globalThis, { runSpecs, runModel, tileTrials });
