// Which worker holds which routed experts of each MoE layer: equal shards, a GPU memory budget with
// the rest on CPU workers, or a map the user gives (checked before any work).

export type WorkerKind = 'gpu' | 'cpu';

export interface PlacementOptions {
  /** Shard workers with a GPU device each (a count), or the kind of each worker in order. */
  workers: number | WorkerKind[];
  /**
   * The experts of each worker: one map for every MoE layer, or one per layer ({ [layer]: map }).
   * Default: equal contiguous shards (within the GPU budget, when one is given).
   */
  placement?: number[][] | Record<number, number[][]>;
  /** Routed-expert bytes the GPU workers may hold in all; the experts past it go to CPU workers. */
  gpuExpertBudgetBytes?: number;
  /** CPU workers for the experts past the budget. Default 1 when any are past it. */
  cpuWorkers?: number;
}

export interface Placement {
  kinds: WorkerKind[];
  /** per MoE layer: the experts of each worker, ascending */
  layers: Map<number, number[][]>;
}

export class PlacementError extends Error {
  override name = 'PlacementError';
}

const fail = (message: string): never => {
  throw new PlacementError(`webmoe: ${message}`);
};

/** Equal contiguous shards of `experts` over `n` workers (the first ones one larger). */
function shards(experts: number[], n: number): number[][] {
  return Array.from({ length: n }, (_, w) => experts.slice(Math.floor((w * experts.length) / n), Math.floor(((w + 1) * experts.length) / n)));
}

/** Checks that `map` gives each of the E experts to exactly one of the workers. */
function checkMap(map: unknown, E: number, workers: number, layer: number): number[][] {
  const where = `placement of layer ${layer}`;
  if (!Array.isArray(map) || !map.every((w) => Array.isArray(w))) fail(`${where} must be a list of expert lists, one per worker`);
  const lists = map as unknown[][];
  if (lists.length !== workers) fail(`${where} names ${lists.length} workers, the options give ${workers}`);
  const owner = new Array<number>(E).fill(-1);
  lists.forEach((list, w) => {
    for (const e of list) {
      if (typeof e !== 'number' || !Number.isInteger(e) || e < 0 || e >= E) fail(`${where}: worker ${w} names expert ${String(e)}, outside 0…${E - 1}`);
      const n = e as number;
      if (owner[n] >= 0) fail(`${where} repeats expert ${n} (workers ${owner[n]} and ${w})`);
      owner[n] = w;
    }
  });
  const missed = owner.flatMap((w, e) => (w < 0 ? [e] : []));
  if (missed.length) fail(`${where} misses expert${missed.length > 1 ? 's' : ''} ${missed.join(', ')}`);
  return lists.map((list) => [...(list as number[])].sort((a, b) => a - b));
}

/**
 * Places the experts of the MoE layers `sparse` (E experts each, `expertBytes` on a GPU worker).
 * Throws PlacementError before any worker starts.
 */
export function planPlacement(o: PlacementOptions, E: number, sparse: number[], expertBytes: number): Placement {
  const given = o.workers;
  if (typeof given === 'number' && (!Number.isInteger(given) || given < 0)) fail(`workers must be a whole number, got ${given}`);
  if (Array.isArray(given) && !given.every((k) => k === 'gpu' || k === 'cpu')) fail(`workers must list 'gpu' or 'cpu' for each worker`);
  const budget = o.gpuExpertBudgetBytes;
  if (budget !== undefined && !(budget >= 0)) fail(`gpuExpertBudgetBytes must be a number ≥ 0, got ${budget}`);
  if (o.placement !== undefined && budget !== undefined) fail('give either a placement map or gpuExpertBudgetBytes, not both');
  const gpus = typeof given === 'number' ? given : 0;
  const layers = new Map<number, number[][]>();

  if (o.placement !== undefined || Array.isArray(given)) {
    const kinds: WorkerKind[] = Array.isArray(given) ? [...given] : new Array<WorkerKind>(gpus).fill('gpu');
    if (!kinds.length) fail('workers must name at least one worker');
    for (const l of sparse) {
      const map = o.placement === undefined ?
        shards([...Array(E).keys()], kinds.length)
        : Array.isArray(o.placement)
        ? o.placement
        : o.placement[l];
      if (map === undefined) fail(`the placement has no map for layer ${l}`);
      layers.set(l, checkMap(map, E, kinds.length, l));
    }
    return { kinds, layers };
  }

  // Equal shards of the experts within the budget over the GPU workers, the rest over CPU workers.
  const onGpu = budget === undefined ? E : Math.min(E, Math.floor(budget / (expertBytes * Math.max(1, sparse.length))));
  const cpus = o.cpuWorkers ?? (onGpu < E ? 1 : 0);
  if (!Number.isInteger(cpus) || cpus < 0) fail(`cpuWorkers must be a whole number, got ${cpus}`);
  if (gpus + cpus === 0) fail('workers must be at least 1');
  if (onGpu > 0 && gpus === 0) fail('the GPU budget holds experts, but workers is 0');
  if (onGpu < E && cpus === 0) fail(`the GPU budget holds ${onGpu} of ${E} experts per layer, and cpuWorkers is 0`);
  const experts = [...Array(E).keys()];
  for (const l of sparse) layers.set(l, [...shards(experts.slice(0, onGpu), gpus), ...shards(experts.slice(onGpu), cpus)]);
  return { kinds: [...new Array<WorkerKind>(gpus).fill('gpu'), ...new Array<WorkerKind>(cpus).fill('cpu')], layers };
}

/** "experts 0-3" / "experts 1, 5, 6" / "no experts": a worker's shard of a layer, for messages. */
export function describeShard(experts: number[]): string {
  if (!experts.length) return 'no experts';
  const contiguous = experts.every((e, i) => e === experts[0] + i);
  if (contiguous) return experts.length === 1 ? `expert ${experts[0]}` : `experts ${experts[0]}-${experts[experts.length - 1]}`;
  return `experts ${experts.join(', ')}`;
}
