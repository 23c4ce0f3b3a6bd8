// The scratch web app (a user's app, as the README tells it): the bundled model, in an engine worker
// (the package's own, or the app's own with exposeEngine) or in the page, answers a prompt.
// ?engine=worker (default) | own-worker | page | url (the package's worker, the model by a relative
// folder URL: plain HTML, where the installed package is served as it is)
import { createWorkerEngine, loadModel } from 'webmoe';
import { bundledModel, bundledModelFiles } from 'webmoe/bundled-model';

const out = document.getElementById('out');
const mode = new URLSearchParams(location.search).get('engine') ?? 'worker';

const options = { tune: false }; // no tile trial: this checks packaging, not speed (CI time)

function start() {
  if (mode === 'page') return loadModel(bundledModel(), options);
  if (mode === 'own-worker') {
    const worker = () => new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    return createWorkerEngine({ files: bundledModelFiles }, { ...options, worker });
  }
  if (mode === 'url') return createWorkerEngine('./node_modules/webmoe/public/models/austen-moe/', options);
  return createWorkerEngine({ files: bundledModelFiles }, options);
}

try {
  const engine = await start();
  // A chat turn, as an app makes one (the bundled model has a chat template).
  const messages = [{ role: 'user', content: 'Do you dance, Mr. Darcy?' }];
  let text = '';
  for await (const c of await engine.chat.completions.create({ messages, max_tokens: 12, temperature: 0, stream: true })) {
    text += c.choices[0]?.delta.content ?? '';
  }
  engine.dispose();
  out.textContent = text;
  out.dataset.done = 'ok';
} catch (e) {
  out.textContent = `${e.name}: ${e.message}`;
  out.dataset.done = 'error';
}
