// The chat page: load a model (the bundled one, a URL, or a local folder), then stream replies with
// their speed and routing. The engine runs in a worker (./engineWorker.ts): the page's thread only
// checks that there is WebGPU and room for the model, and draws. Every failure ends in the status
// line; nothing waits forever.
import { proxy, type Remote, wrap } from 'comlink';
import { createWorkerEngine, type ChatMessage, type GenerateOptions, type GenerationStats, type Prompt, type WeightDType,
  type WorkerEngine } from '../../src/index.js';
import { adoptWorker, guard } from '../../src/platform/workers.js';
import { checkLimits, requestAdapter } from '../common/gpu.js';
import { byId, errorText, isAbort, mb, setStatus } from '../common/status.js';
import type { ChatWorkerApi } from './engineWorker.js';
import { checkFits } from './fit.js';
import { Heatmap } from './heatmap.js';
import { ProgressView } from './progress.js';
import { RoutingLog } from './routing.js';
import { readSettings } from './settings.js';
import { canPickDirectory, folderModel, type ModelChoice, pickDirectoryModel, urlModel } from './source.js';
import { Transcript } from './transcript.js';
import { DEFAULT_CACHE } from '../../src/io/cacheSource.js';
import { BUNDLED_MODEL } from '../common/bundled.js';

const status = byId('status');
const progress = new ProgressView(byId<HTMLProgressElement>('load-progress'), byId('load-label'));
const heatmap = new Heatmap(byId<HTMLTableElement>('heatmap'));
const tokenInfo = byId('token-info');
const stats = byId('stats');
const message = byId<HTMLTextAreaElement>('message');
const send = byId<HTMLButtonElement>('send');
const stop = byId<HTMLButtonElement>('stop');
const modelUrl = byId<HTMLInputElement>('model-url');
const dtypeSelect = byId<HTMLSelectElement>('dtype');
const settingsForm = byId<HTMLFormElement>('settings');

let engine: WorkerEngine | undefined;
/** The worker of the engine loaded or loading now (device loss of any other is old news). */
let current: Worker | undefined;
/** Why the current worker's GPU device went away, once it has. */
let lostText: string | undefined;
let modelName = '';
let chatMode = false;
let loading: AbortController | undefined;
let generating: AbortController | undefined;
let history: ChatMessage[] = [];
let routing: RoutingLog | undefined;
const HOVER_HINT = 'Hover over (or focus) a generated token to see its experts.';

const transcript = new Transcript(byId('transcript'), (position, span) => showToken(position, span));

function showToken(position: number, span: HTMLElement): void {
  const layers = routing?.at(position);
  const head = `token ${JSON.stringify(span.textContent)} at position ${position}`;
  tokenInfo.textContent = layers
    ? `${head}:\n${layers.map((l) => `layer ${l.layer}: ${l.ids.map((e, j) => `e${e} ${l.weights[j].toFixed(2)}`).join(', ')}`).join('\n')}`
    : `${head}: not routed yet (the reply ended before this token went back through the model)`;
}

function setBusy(state: 'idle' | 'loading' | 'generating'): void {
  send.disabled = state !== 'idle' || !engine;
  stop.disabled = state !== 'generating';
  for (const id of ['load', 'folder', 'pick']) byId<HTMLButtonElement | HTMLInputElement>(id).disabled = state === 'generating';
  document.body.dataset.state = state;
}

function deviceLost(worker: Worker, reason: string): void {
  if (worker !== current) return;
  lostText = `The GPU device was lost (${reason}). Load the model again.`;
  engine?.dispose();
  engine = undefined;
  if (!loading && !generating) setBusy('idle');
  setStatus(status, lostText, 'error');
}

/** A fresh engine worker (Vite bundles ./engineWorker.ts for this very line). */
function startWorker(): Worker {
  return new Worker(new URL('./engineWorker.ts', import.meta.url), { type: 'module', name: 'webmoe engine' });
}

async function load(choice: ModelChoice): Promise<void> {
  loading?.abort();
  generating?.abort();
  const controller = (loading = new AbortController());
  const dtype = dtypeSelect.value as WeightDType;
  engine?.dispose();
  engine = undefined;
  delete document.body.dataset.engine;
  setBusy('loading');
  progress.reset();
  let worker: Worker | undefined;
  let handedOver = false;
  try {
    // On this thread: only whether there is WebGPU and an able adapter (no device, no kernels).
    checkLimits(await requestAdapter());
    controller.signal.throwIfAborted();
    worker = current = startWorker();
    lostText = undefined;
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
    checkFits(size.gpuBytes, dtype);
    setStatus(status, `Loading ${choice.name} (${mb(size.weightBytes)} MB of weights, about ${mb(size.gpuBytes)} MB on the GPU as ${dtype})…`);
    handedOver = true;
    const loaded = await createWorkerEngine(choice.spec, {
      worker,
      dtype,
      signal: controller.signal,
      onProgress: (p) => progress.update('uploading to the GPU', p.loadedBytes, p.totalBytes),
    });
    // A conversation needs a chat template that renders; without one the page does plain completion.
    const chat = await loaded.encode([{ role: 'user', content: 'Hello' }]).then(() => true, () => false);
    if (loading !== controller) return loaded.dispose();
    engine = loaded;
    chatMode = chat;
    modelName = choice.name;
    history = [];
    const c = engine.config;
    const mode = chat ? 'chat (the model’s chat template)' : 'plain completion (the model has no chat template)';
    progress.done(`${mb(size.weightBytes)} MB loaded`);
    byId('model-info').textContent =
      `${modelName}: ${c.family}, ${c.layers} layers, ${c.experts} experts (top-${c.topK}), vocab ${c.vocab}, ${dtype} weights; ${mode}.`;
    document.body.dataset.engine = 'worker';
    setStatus(status, `Ready: ${mode}.`);
  } catch (e) {
    if (!handedOver) worker?.terminate();
    if (loading !== controller) return;
    progress.reset();
    setStatus(status, isAbort(e) ? 'Load cancelled.' : lostText ?? `Could not load the model: ${errorText(e)}`, 'error');
  } finally {
    if (loading === controller) {
      loading = undefined;
      setBusy('idle');
    }
  }
}

function statsText(s: GenerationStats): string {
  return `${s.promptTokens} prompt tokens, ${s.completionTokens} generated (${s.finishReason}) · prefill ${s.prefillTokensPerSecond.toFixed(1)} tok/s · ` +
    `decode ${s.decodeTokensPerSecond.toFixed(1)} tok/s · time to first token ${s.timeToFirstTokenMs.toFixed(0)} ms`;
}

async function generate(text: string, options: GenerateOptions): Promise<void> {
  if (!engine) return;
  const chat = chatMode;
  const prompt: Prompt = chat ? [...history, { role: 'user', content: text }] : text;
  const controller = (generating = new AbortController());
  transcript.addUser(text);
  const reply = transcript.startReply(modelName.split('/').filter(Boolean).pop() ?? 'model');
  routing = new RoutingLog(engine.config.experts);
  heatmap.clear();
  tokenInfo.textContent = HOVER_HINT;
  setBusy('generating');
  setStatus(status, 'Generating…');
  stats.textContent = '';
  let promptTokens = 0;
  let generated = 0;
  try {
    for await (const chunk of engine.generate(prompt, { ...options, trace: true, signal: controller.signal })) {
      if (generated === 0 && chunk.routing?.[0]) promptTokens = chunk.routing[0].positions.length;
      routing.add(chunk.routing);
      heatmap.schedule(routing);
      reply.add(chunk.text, chunk.tokens.length ? promptTokens + generated : undefined);
      generated += chunk.tokens.length;
      if (chunk.stats) stats.textContent = statsText(chunk.stats);
    }
    if (chat) history = [...history, { role: 'user', content: text }, { role: 'assistant', content: reply.text() }];
    setStatus(status, 'Done.');
  } catch (e) {
    if (isAbort(e)) {
      reply.note(`stopped after ${generated} tokens`);
      setStatus(status, `Stopped after ${generated} tokens.`);
    } else {
      setStatus(status, lostText ?? `Generation failed: ${errorText(e)}`, 'error');
    }
  } finally {
    heatmap.draw(routing);
    generating = undefined;
    setBusy('idle');
  }
}

byId<HTMLFormElement>('load-form').addEventListener('submit', (e) => {
  e.preventDefault();
  try {
    load(urlModel(modelUrl.value));
  } catch (err) {
    setStatus(status, errorText(err), 'error');
  }
});

byId<HTMLInputElement>('folder').addEventListener('change', (e) => {
  const files = (e.target as HTMLInputElement).files;
  if (!files) return;
  try {
    load(folderModel(files));
  } catch (err) {
    setStatus(status, errorText(err), 'error');
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
  if (!engine || generating || !text.trim()) return;
  let options: GenerateOptions;
  try {
    options = readSettings(settingsForm);
  } catch (err) {
    setStatus(status, errorText(err), 'error');
    return;
  }
  message.value = '';
  generate(text, options).catch((err) => setStatus(status, errorText(err), 'error'));
});

message.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey) {
    e.preventDefault();
    byId<HTMLFormElement>('send-form').requestSubmit();
  }
});

stop.addEventListener('click', () => generating?.abort());

byId('clear').addEventListener('click', () => {
  generating?.abort();
  transcript.clear();
  history = [];
  heatmap.clear();
  tokenInfo.textContent = HOVER_HINT;
  stats.textContent = '';
});

modelUrl.value = BUNDLED_MODEL;
setBusy('idle');
load(urlModel(BUNDLED_MODEL));
