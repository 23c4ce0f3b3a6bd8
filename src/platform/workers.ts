// Starting a worker — a browser module Worker by default; webmoe/node installs worker_threads — and
// turning its death into an error for every call still waiting on it, so that nothing hangs.
import type { Endpoint } from 'comlink';

/** The worker scripts the build puts next to the package's modules (dist/). */
export type WorkerScript = 'engine' | 'shard';

export interface WorkerHandle {
  endpoint: Endpoint;
  /** Rejects when the worker fails (an uncaught error, a script that does not load), exits or is terminated. */
  died: Promise<never>;
  terminate(): void;
}

export type Spawner = (script: WorkerScript, url?: string | URL) => WorkerHandle;

/** A worker failed or died: names the worker (and, for a shard, its experts). */
export class WorkerError extends Error {
  override name = 'WorkerError';
}

// The worker scripts of dist/ beside this module, each in the form bundlers (Vite, webpack) follow to
// bundle a worker: `new Worker(new URL('…', import.meta.url), { type: 'module' })`, written out in full.
// The library build leaves them to the app's bundler (the comment; vite.config.ts drops it from dist/);
// without a bundler, the browser finds the files beside this module.
const DEFAULT_WORKERS: Record<WorkerScript, () => Worker> = {
  engine: () => new Worker(new URL(/* @vite-ignore */ './engine-worker.js', import.meta.url), { type: 'module', name: 'webmoe engine' }),
  shard: () => new Worker(new URL(/* @vite-ignore */ './shard-worker.js', import.meta.url), { type: 'module', name: 'webmoe shard' }),
};

/** A promise that rejects when `fail` is called (never unhandled: callers race it). */
export function deathWatch(): { died: Promise<never>; fail: (e: unknown) => void } {
  let fail!: (e: unknown) => void;
  const died = new Promise<never>((_, reject) => (fail = reject));
  died.catch(() => {});
  return { died, fail };
}

const browserSpawner: Spawner = (script, url) => {
  if (typeof Worker === 'undefined') {
    throw new WorkerError('webmoe: this environment has no Worker (in Node, use the webmoe/node entry point)');
  }
  return adoptWorker(url ? new Worker(url, { type: 'module', name: `webmoe ${script}` }) : DEFAULT_WORKERS[script]());
};

/** A browser Worker someone else started, watched like one of ours (its `error` events end the calls waiting on it). */
export function adoptWorker(w: Worker): WorkerHandle {
  const { died, fail } = deathWatch();
  w.addEventListener('error', (e) => fail(new Error(e.message || 'the worker script failed to load')));
  return { endpoint: w, died, terminate: () => {
    fail(new Error('terminated'));
    w.terminate();
  } };
}

let spawner: Spawner = browserSpawner;

/** Replaces how workers start (webmoe/node installs worker_threads). */
export function setSpawner(s: Spawner): void {
  spawner = s;
}

export function spawnWorker(script: WorkerScript, url?: string | URL): WorkerHandle {
  return spawner(script, url);
}

/** `call`, or a WorkerError `webmoe: ${what} died: …` as soon as the worker dies. */
export function guard<R>(h: WorkerHandle, what: string, call: Promise<R>): Promise<R> {
  const death = h.died.catch((e: unknown) => {
    throw new WorkerError(`webmoe: ${what} died: ${e instanceof Error ? e.message : String(e)}`);
  });
  return Promise.race([call, death]);
}
