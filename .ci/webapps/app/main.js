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
  let text = '';
  for await (const chunk of engine.generate('It was a fine morning, and Elizabeth', { maxTokens: 12, temperature: 0 })) text += chunk.text;
  engine.dispose();
  out.textContent = text;
  out.dataset.done = 'ok';
} catch (e) {
  out.textContent = `${e.name}: ${e.message}`;
  out.dataset.done = 'error';
}
