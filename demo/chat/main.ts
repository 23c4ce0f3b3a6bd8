// The chat page: load a model (the bundled one, a URL, or a local folder), then stream replies with
// their speed and routing. Every failure ends in the status line; nothing waits forever.
import { Engine, type ChatMessage, type GenerateOptions, type GenerationStats, type ModelSource, openCheckpoint, type Prompt, type WeightDType } from '../../src/index.js';
import { openDevice } from '../common/gpu.js';
import { byId, errorText, isAbort, mb, setStatus } from '../common/status.js';
import { catchOutOfMemory, checkFits, gpuBytes } from './fit.js';
import { Heatmap } from './heatmap.js';
import { ProgressView } from './progress.js';
import { RoutingLog } from './routing.js';
import { readSettings } from './settings.js';
import { canPickDirectory, folderModel, pickDirectoryModel, urlModel } from './source.js';
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

let device: GPUDevice | undefined;
let engine: Engine | undefined;
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

async function getDevice(): Promise<GPUDevice> {
  if (device) return device;
  const opened = (await openDevice()).device;
  opened.lost.then((info) => {
    if (device !== opened) return;
    device = undefined;
    engine = undefined;
    setBusy('idle');
    setStatus(status, `The GPU device was lost (${info.reason}: ${info.message}). Load the model again.`, 'error');
  });
  return (device = opened);
}

async function load(source: ModelSource): Promise<void> {
  loading?.abort();
  generating?.abort();
  const controller = (loading = new AbortController());
  const dtype = dtypeSelect.value as WeightDType;
  engine?.dispose();
  engine = undefined;
  setBusy('loading');
  progress.reset();
  try {
    const dev = await getDevice();
    setStatus(status, `Reading ${source.name}…`);
    const ckpt = await openCheckpoint(source, controller.signal);
    const bytes = gpuBytes(ckpt, dtype);
    checkFits(bytes, dtype);
    setStatus(status, `Loading ${source.name} (${mb(ckpt.bytes)} MB of weights, about ${mb(bytes)} MB on the GPU as ${dtype})…`);
    const loaded = await catchOutOfMemory(dev, bytes, dtype, () => Engine.load(dev, source, {
      dtype, signal: controller.signal,
      onProgress: (p) => progress.update('uploading to the GPU', p.loadedBytes, p.totalBytes),
    }));
    if (loading !== controller) return loaded.dispose();
    engine = loaded;
    history = [];
    const c = engine.config;
    const mode = engine.tokenizer?.hasChatTemplate ? 'chat (the model’s chat template)' : 'plain completion (the model has no chat template)';
    progress.done(`${mb(ckpt.bytes)} MB loaded`);
    byId('model-info').textContent = `${engine.model}: ${c.family}, ${c.layers} layers, ${c.experts} experts (top-${c.topK}), vocab ${c.vocab}, ${dtype} weights; ${mode}.`;
    setStatus(status, `Ready: ${mode}.`);
  } catch (e) {
    if (loading !== controller) return;
    progress.reset();
    setStatus(status, isAbort(e) ? 'Load cancelled.' : `Could not load the model: ${errorText(e)}`, 'error');
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
  const chat = engine.tokenizer?.hasChatTemplate ?? false;
  const prompt: Prompt = chat ? [...history, { role: 'user', content: text }] : text;
  const controller = (generating = new AbortController());
  transcript.addUser(text);
  const reply = transcript.startReply(engine.model.split('/').filter(Boolean).pop() ?? 'model');
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
      setStatus(status, `Generation failed: ${errorText(e)}`, 'error');
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
    load(urlModel(modelUrl.value, (p) => progress.update(`downloading ${p.file}`, p.loadedBytes, p.totalBytes)));
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
  pickDirectoryModel().then(load, (err) => { if (!isAbort(err)) setStatus(status, errorText(err), 'error'); });
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
load(urlModel(BUNDLED_MODEL, (p) => progress.update(`downloading ${p.file}`, p.loadedBytes, p.totalBytes)));
