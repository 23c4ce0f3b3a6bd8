// The chat page: pick a model (the bundled one, a known Hub repo, a URL or a local folder), then chat
// through chat.completions with each reply's speed and routing. The engine runs in a worker
// (./engineWorker.ts): the page's thread only checks that there is WebGPU and room for the model, and
// draws. A new model loads beside the current one, which stays until the new one is ready (a failed
// load keeps it). Every failure ends in the status line in plain words, with what to do next.
import { proxy, type Remote, wrap } from 'comlink';
import { createWorkerEngine, type ChatCompletionMessageParam, type GenerateOptions, type GenerationChunk, type GenerationStats, type WeightDType,
  type WorkerEngine } from '../../src/index.js';
import { adoptWorker, guard } from '../../src/platform/workers.js';
import { checkLimits, requestAdapter } from '../common/gpu.js';
import { byId, errorText, isAbort, mb, setStatus } from '../common/status.js';
import { DEFAULT_CACHE } from '../../src/io/cacheSource.js';
import { loadAdvice, replyAdvice } from './advice.js';
import { budgetText, CATALOGUE, type CatalogueEntry, DTYPES, fit, FIT_POSITIONS, paramsText, sizeText } from './catalogue.js';
import { tracedCompletions } from './completions.js';
import type { ChatWorkerApi, ModelSize } from './engineWorker.js';
import { checkFits } from './fit.js';
import { Heatmap } from './heatmap.js';
import { ProgressView } from './progress.js';
import { RoutingLog } from './routing.js';
import { readSettings } from './settings.js';
import { canPickDirectory, folderModel, type ModelChoice, pickDirectoryModel, urlModel } from './source.js';
import { TokenStrip } from './tokens.js';
import { Transcript } from './transcript.js';

const status = byId('status');
const progress = new ProgressView(byId<HTMLProgressElement>('load-progress'), byId('load-label'));
const heatmap = new Heatmap(byId<HTMLTableElement>('heatmap'));
const tokenInfo = byId('token-info');
const stats = byId('stats');
const message = byId<HTMLTextAreaElement>('message');
const systemPrompt = byId<HTMLTextAreaElement>('system-prompt');
const send = byId<HTMLButtonElement>('send');
const stop = byId<HTMLButtonElement>('stop');
const catalogue = byId<HTMLSelectElement>('catalogue');
const modelUrl = byId<HTMLInputElement>('model-url');
const dtypeSelect = byId<HTMLSelectElement>('dtype');
const settingsForm = byId<HTMLFormElement>('settings');
const deviceGiB = (navigator as { deviceMemory?: number }).deviceMemory;

/** The model the conversation runs on: its engine, worker and what the page shows of it. */
interface Loaded {
  engine: WorkerEngine;
  worker: Worker;
  name: string;
  chat: boolean;
  size: ModelSize;
  dtype: WeightDType;
}

let model: Loaded | undefined;
/** The worker of the load in flight, and why its device went away if it did. */
let incoming: { worker: Worker; lost?: string } | undefined;
let loading: AbortController | undefined;
let generating: AbortController | undefined;
let history: ChatCompletionMessageParam[] = [];
let routing: RoutingLog | undefined;
const HOVER_HINT = 'Hover over (or focus) a token to see its experts in every layer.';

const transcript = new Transcript(byId('transcript'));
const strip = new TokenStrip(byId('routing-tokens'), byId('routing-legend'), byId<HTMLSelectElement>('routing-layer'), byId('expert-fires'), showToken);

function showToken(position: number, span: HTMLElement): void {
  const layers = routing?.at(position);
  const head = `token ${JSON.stringify(span.textContent)} at position ${position}`;
  tokenInfo.textContent = layers
    ? `${head}:\n${layers.map((l) => `layer ${l.layer}: ${l.ids.map((e, j) => `e${e} ${l.weights[j].toFixed(2)}`).join(', ')}`).join('\n')}`
    : `${head}: not routed yet (the reply ended before this token went back through the model)`;
}

function setBusy(state: 'idle' | 'loading' | 'generating'): void {
  send.disabled = state !== 'idle' || !model;
  stop.disabled = state !== 'generating';
  for (const id of ['load', 'folder', 'pick']) byId<HTMLButtonElement | HTMLInputElement>(id).disabled = state === 'generating';
  document.body.dataset.state = state;
}

// ---- the model picker ----

const entryOf = (url: string): CatalogueEntry | undefined => CATALOGUE.find((e) => e.url === url);

function showSizes(): void {
  const entry = entryOf(modelUrl.value.trim());
  catalogue.value = entry?.url ?? '';
  const table = byId<HTMLTableElement>('sizes');
  if (!entry) {
    table.innerHTML = '<caption>A model of your own: its size shows when it is read, before its weights download.</caption>';
    return;
  }
  const rows = DTYPES.map((d) => {
    const f = fit(entry, d, deviceGiB);
    const mark = f.fits === undefined ? '?' : f.fits ? '✓' : '✗';
    const chosen = d === dtypeSelect.value ? ' class="chosen"' : '';
    const why = `weights and ${FIT_POSITIONS} positions of KV cache: about ${mb(f.bytes)} MB`;
    return `<tr${chosen}><th scope="row">${d}</th><td>${sizeText(entry.gb[d])}</td><td class="fit-${
      String(f.fits)
    }" title="${why}">${mark} ${f.text}</td></tr>`;
  });
  table.innerHTML = `<caption>${entry.family} · ${paramsText(entry)}</caption><thead><tr><th scope="col">weights</th><th scope="col">size</th>` +
    `<th scope="col">fits?</th></tr></thead><tbody>${rows.join('')}</tbody><tfoot><tr><td colspan="3">${budgetText(deviceGiB)}</td></tr></tfoot>`;
}

catalogue.replaceChildren(
  ...CATALOGUE.map((e) => new Option(e.repo, e.url)),
  new Option('Another model (enter its URL)', ''),
);
catalogue.addEventListener('change', () => {
  if (catalogue.value) modelUrl.value = catalogue.value;
  else modelUrl.select();
  showSizes();
});
modelUrl.addEventListener('input', showSizes);
dtypeSelect.addEventListener('change', showSizes);

function showMemory(m: Loaded | undefined): void {
  const facts: [string, string][] = m
    ? [['weights + KV cache', `about ${mb(m.size.gpuBytes)} MB (${m.dtype})`], ['download', `${mb(m.size.weightBytes)} MB, kept in this browser's cache`]]
    : [];
  facts.push(['this device', deviceGiB ? `reports ${deviceGiB} GiB of memory` : 'does not report its memory']);
  byId('memory-info').replaceChildren(...facts.flatMap(([k, v]) => {
    const dt = document.createElement('dt');
    const dd = document.createElement('dd');
    dt.textContent = k;
    dd.textContent = v;
    return [dt, dd];
  }));
}

// ---- loading ----

function deviceLost(worker: Worker, reason: string): void {
  const text = `The GPU device was lost (${reason}). Load the model again.`;
  if (incoming?.worker === worker) incoming.lost = text;
  if (model?.worker !== worker) return;
  model.engine.dispose();
  model = undefined;
  byId('model-badge').textContent = '';
  showMemory(undefined);
  if (!loading && !generating) setBusy('idle');
  setStatus(status, text, 'error');
}

/** A fresh engine worker (Vite bundles ./engineWorker.ts for this very line). */
function startWorker(): Worker {
  return new Worker(new URL('./engineWorker.ts', import.meta.url), { type: 'module', name: 'webmoe engine' });
}

/** Clears the conversation and the routing view (a new model, or Clear). */
function newConversation(): void {
  generating?.abort();
  transcript.clear();
  history = [];
  routing = undefined;
  heatmap.clear();
  strip.forget();
  tokenInfo.textContent = HOVER_HINT;
  stats.textContent = '';
}

/** The expert cache's budget in MB, or undefined (every expert on the GPU). */
function expertCacheMB(): number | undefined {
  const v = byId<HTMLInputElement>('expert-cache').value.trim();
  if (v === '') return undefined;
  const n = Number(v);
  if (!(n > 0 && Number.isFinite(n))) throw new RangeError(`Expert cache must be a number of MB above 0, got "${v}"`);
  return n;
}

async function load(choice: ModelChoice): Promise<void> {
  loading?.abort();
  const controller = (loading = new AbortController());
  const dtype = dtypeSelect.value as WeightDType;
  setBusy('loading');
  progress.reset();
  let worker: Worker | undefined;
  let handedOver = false;
  try {
    const cacheMB = expertCacheMB();
    // On this thread: only whether there is WebGPU and an able adapter (no device, no kernels).
    checkLimits(await requestAdapter());
    controller.signal.throwIfAborted();
    worker = startWorker();
    incoming = { worker };
    const handle = adoptWorker(worker);
    controller.signal.addEventListener('abort', () => {
      if (!handedOver) handle.terminate();
    }, { once: true });
    const remote: Remote<ChatWorkerApi> = wrap<ChatWorkerApi>(worker);
    const own = worker;
    await guard(handle, 'the engine worker', remote.watch(proxy({
      download: (p) => progress.update(`downloading ${p.file}`, p.loadedBytes, p.totalBytes),
      deviceLost: (reason) => deviceLost(own, reason),
    })));
    setStatus(status, `Reading ${choice.name}…`);
    const size = await guard(handle, 'the engine worker', remote.size(choice.spec, dtype));
    controller.signal.throwIfAborted();
    // With an expert cache only its budget of the experts is on the GPU: the engine checks its minimum.
    if (cacheMB === undefined) checkFits(size.gpuBytes, dtype);
    setStatus(status, `Loading ${choice.name} (${mb(size.weightBytes)} MB of weights, about ${mb(size.gpuBytes)} MB on the GPU as ${dtype})…`);
    handedOver = true;
    const engine = await createWorkerEngine(choice.spec, {
      worker,
      dtype,
      ...(cacheMB !== undefined && { expertCacheBytes: cacheMB * 2 ** 20 }),
      signal: controller.signal,
      onProgress: (p) => progress.update('uploading to the GPU', p.loadedBytes, p.totalBytes),
    });
    // A conversation needs a chat template that renders; without one the page does plain completion.
    const chat = await engine.encode([{ role: 'user', content: 'Hello' }]).then(() => true, () => false);
    if (loading !== controller) return engine.dispose();
    const previous = model;
    model = { engine, worker, name: choice.name, chat, size, dtype };
    previous?.engine.dispose();
    newConversation();
    adoptSystemPrompt(previous !== undefined, choice);
    const c = engine.config;
    const mode = chat ? 'chat (the model’s chat template)' : 'plain completion (the model has no chat template)';
    progress.done(`${mb(size.weightBytes)} MB loaded`);
    byId('model-info').textContent = `${
      shortName(choice.name)
    }: ${c.family}, ${c.layers} layers, ${c.experts} experts (top-${c.topK}), vocab ${c.vocab}, ${dtype} weights; ${mode}.`;
    byId('model-badge').textContent = `${shortName(choice.name)} · ${dtype}`;
    systemPrompt.disabled = !chat;
    showMemory(model);
    document.body.dataset.engine = 'worker';
    setStatus(status, `Ready: ${mode}.`);
  } catch (e) {
    if (!handedOver) worker?.terminate();
    if (loading !== controller) return;
    progress.reset();
    const lost = incoming?.worker === worker ? incoming?.lost : undefined;
    const text = isAbort(e) ? 'Load cancelled.' : lost ?? errorText(e);
    const what = model ? `Could not load ${shortName(choice.name)}` : 'Could not load the model';
    const kept = model ? `The previous model, ${shortName(model.name)}, is still loaded.` : '';
    const advice = isAbort(e) || lost ? '' : loadAdvice(text);
    setStatus(status, [`${what}: ${sentence(text)}`, advice, kept].filter(Boolean).join(' '), 'error');
  } finally {
    if (loading === controller) {
      loading = undefined;
      incoming = undefined;
      setBusy('idle');
    }
  }
}

/** A message as a sentence: ends with a full stop. */
const sentence = (text: string) => (/[.!?…]$/.test(text) ? text : `${text}.`);

const shortName = (name: string) => name.replace(/\/resolve\/[^/]+\/$/, '').split('/').filter(Boolean).pop() ?? name;

/** A new model gets its catalogue entry's system prompt, unless the visitor wrote one of their own. */
function adoptSystemPrompt(switched: boolean, choice: ModelChoice): void {
  const own = systemPrompt.value.trim();
  if (switched && own && !CATALOGUE.some((e) => e.system === own)) return;
  const entry = CATALOGUE.find((e) => urlModel(e.url).spec === choice.spec);
  systemPrompt.value = entry?.system ?? 'You are a helpful assistant.';
}

// ---- replies ----

function statsText(s: GenerationStats): string {
  const r = s.routing;
  const c = s.expertCache;
  return `${s.promptTokens} prompt tokens, ${s.completionTokens} generated (${s.finishReason}) · prefill ${s.prefillTokensPerSecond.toFixed(1)} tok/s · ` +
    `decode ${s.decodeTokensPerSecond.toFixed(1)} tok/s · time to first token ${s.timeToFirstTokenMs.toFixed(0)} ms` +
    (r ? ` · ${r.activePerToken.toFixed(2)} experts a token, load max/mean ${Math.max(...r.layers.map((l) => l.maxOverMean)).toFixed(2)}` : '') +
    (c ? ` · expert cache: ${(100 * c.hitRate).toFixed(0)}% hits, ${mb(c.bytesPerToken)} MB uploaded a token` : '');
}

async function reply(m: Loaded, text: string, options: GenerateOptions): Promise<void> {
  const system = systemPrompt.value.trim();
  const messages: ChatCompletionMessageParam[] = [...(system ? [{ role: 'system', content: system }] : []), ...history, { role: 'user', content: text }];
  const controller = (generating = new AbortController());
  transcript.addUser(text);
  const bubble = transcript.startReply(shortName(m.name));
  const log = (routing = new RoutingLog(m.engine.config.experts));
  heatmap.clear();
  strip.clear();
  tokenInfo.textContent = HOVER_HINT;
  setBusy('generating');
  setStatus(status, 'Generating…');
  stats.textContent = '';
  let promptTokens = 0;
  let generated = 0;
  const onChunk = (chunk: GenerationChunk) => {
    // The prompt's last position (the KV cache may have held the start of it: only the rest is routed).
    if (generated === 0 && chunk.routing?.length) promptTokens = chunk.routing.at(-1)!.positions.at(-1)! + 1;
    log.add(chunk.routing);
    if (chunk.tokens.length) strip.add(chunk.text, promptTokens + generated);
    generated += chunk.tokens.length;
    heatmap.schedule(log);
    strip.schedule(log);
    if (chunk.stats) stats.textContent = statsText(chunk.stats);
    const cache = chunk.stats?.expertCache;
    if (cache) heatmap.resident = new Map(cache.resident.map(({ layer, experts }) => [layer, new Set(experts)]));
  };
  const { maxTokens, temperature, topP, seed, ...extras } = options;
  try {
    if (m.chat) {
      const completions = tracedCompletions(m.engine, extras, onChunk);
      const stream = await completions.create({ messages, stream: true, max_tokens: maxTokens, temperature, top_p: topP, seed, signal: controller.signal });
      for await (const c of stream) bubble.add(c.choices[0].delta.content ?? '');
      history = [...history, { role: 'user', content: text }, { role: 'assistant', content: bubble.text() }];
    } else {
      for await (const chunk of m.engine.generate(text, { ...options, trace: true, signal: controller.signal })) {
        onChunk(chunk);
        bubble.add(chunk.text);
      }
    }
    setStatus(status, 'Done.');
  } catch (e) {
    if (isAbort(e)) {
      bubble.note(`stopped after ${generated} tokens`);
      setStatus(status, `Stopped after ${generated} tokens.`);
    } else {
      // The message goes back into the box, so a long one is not lost.
      if (!message.value) message.value = text;
      const why = errorText(e);
      setStatus(status, `No reply: ${sentence(why)} ${replyAdvice(why)}`, 'error');
    }
  } finally {
    bubble.finish();
    heatmap.draw(log);
    strip.draw(log);
    if (generating === controller) generating = undefined;
    setBusy('idle');
  }
}

// ---- controls ----

byId<HTMLFormElement>('load-form').addEventListener('submit', (e) => {
  e.preventDefault();
  try {
    load(urlModel(modelUrl.value));
  } catch (err) {
    setStatus(status, sentence(errorText(err)), 'error');
  }
});

byId<HTMLInputElement>('folder').addEventListener('change', (e) => {
  const files = (e.target as HTMLInputElement).files;
  if (!files) return;
  try {
    load(folderModel(files));
  } catch (err) {
    setStatus(status, `${errorText(err)}: pick a folder that holds config.json, tokenizer.json and model.safetensors.`, 'error');
  }
});

const pick = byId<HTMLButtonElement>('pick');
pick.hidden = !canPickDirectory();
pick.addEventListener('click', () => {
  pickDirectoryModel().then(load, (err) => {
    if (!isAbort(err)) setStatus(status, errorText(err), 'error');
  });
});

byId('clear-cache').addEventListener('click', async () => {
  const removed = await caches.delete(DEFAULT_CACHE);
  setStatus(status, removed ? 'Cached model files removed: the next load downloads them again.' : 'No cached model files.');
});

byId<HTMLFormElement>('send-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = message.value;
  if (!model || generating || !text.trim()) return;
  let options: GenerateOptions;
  try {
    options = readSettings(settingsForm, model.engine.config.experts);
  } catch (err) {
    setStatus(status, `${errorText(err)}: fix it under Sampling.`, 'error');
    return;
  }
  message.value = '';
  reply(model, text, options).catch((err) => setStatus(status, errorText(err), 'error'));
});

message.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey) {
    e.preventDefault();
    byId<HTMLFormElement>('send-form').requestSubmit();
  }
});

stop.addEventListener('click', () => generating?.abort());
byId('clear').addEventListener('click', newConversation);
byId<HTMLSelectElement>('routing-layer').addEventListener('change', () => routing && strip.draw(routing));

modelUrl.value = CATALOGUE[0].url;
showSizes();
showMemory(undefined);
setBusy('idle');
load(urlModel(CATALOGUE[0].url));
