// Workers in Node: worker_threads with Comlink's node adapter. Importing this module (webmoe/node
// does) makes createWorkerEngine and the expert-parallel scheduler start their workers this way.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { deathWatch, setSpawner, type Spawner, type WorkerScript } from './workers.js';

const FILES: Record<WorkerScript, string> = { engine: 'engine-worker-node.js', shard: 'shard-worker-node.js' };
// A variable, so that the build leaves the URL alone (the worker files sit beside this module in dist/).
const HERE = import.meta.url;

/**
 * Starts a worker_threads Worker on `url`, or on the built worker script of that name: in the folder
 * WEBMOE_WORKER_DIR when set (tests that run the package from source), else beside this module.
 */
export const nodeSpawner: Spawner = (script, url) => {
  const dir = typeof process !== 'undefined' ? process.env.WEBMOE_WORKER_DIR : undefined;
  const where = url ?? (dir ? pathToFileURL(join(dir, FILES[script])) : new URL(FILES[script], HERE));
  const w = new Worker(where, { name: `webmoe ${script}` });
  const { died, fail } = deathWatch();
  w.on('error', (e) => fail(e));
  w.on('exit', (code) => fail(new Error(`exited with code ${code}`)));
  return { endpoint: nodeEndpoint(w), died, terminate: () => {
    fail(new Error('terminated'));
    void w.terminate();
  } };
};

setSpawner(nodeSpawner);
