// Tile shapes of the expert kernels, chosen per device: the fastest differs between GPUs and a
// software adapter, so a short trial on the device picks one (tune.ts) and the choice is kept for
// the device (and, in a browser, for the adapter in localStorage or, in a worker, IndexedDB:
// tileStore.ts). Untuned: defaults for GPUs.
// The candidates follow the device: subgroup shuffles where it has subgroups, f16 tiles where it
// has shader-f16 and was created with `f16Math` (for weights stored at f16 or below), tile depths
// that fit its workgroup memory.
import { allowsF16Math } from '../gpu/device.js';
import { STORAGES, type WeightStorage } from '../weights/format.js';
import type { ExpertMatrix } from '../weights/matrix.js';
import type { BlockRows } from './align.js';
import { storedTile, storeTile } from './tileStore.js';

/**
 * moe_gemv.wgsl: LANES threads along K per column, ROWS columns per thread (64 threads); `shuffle`
 * sums the lanes by subgroup shuffles (lanes_subgroup.wgsl) instead of workgroup memory.
 */
export interface GemvTiles {
  lanes: number;
  rows: number;
  shuffle: boolean;
}

/**
 * moe_gemm.wgsl: BK inputs per tile; `f16` tiles and products (half_f16.wgsl) instead of f32;
 * `shuffle` passes the A inputs round by subgroup shuffles (inputs_subgroup.wgsl) instead of a
 * workgroup tile.
 */
export interface GemmTiles {
  bk: number;
  f16: boolean;
  shuffle: boolean;
}

type Matrix = Pick<ExpertMatrix, 'dtype' | 'parts' | 'outputs' | 'inner'>;

// [LANES, ROWS]. Few lanes of 8 columns suit a CPU adapter (lavapipe: the experts' down GEMV 1.3–2×
// faster at 2 × 8 than at 8 × 4, fewer and longer workgroups), many lanes a GPU.
const GEMV_SHAPES: readonly (readonly [number, number])[] = [[16, 2], [8, 4], [32, 4], [64, 8], [8, 8], [2, 8]];

/** The GEMV candidates on `device`; the first is the default. */
export function gemvCandidates(device: GPUDevice): GemvTiles[] {
  const shared = GEMV_SHAPES.map(([lanes, rows]) => ({ lanes, rows, shuffle: false }));
  // Shuffles reach within a subgroup only: a column's lanes must fit in the smallest one.
  return [...shared, ...shared.filter((t) => t.lanes <= subgroupMin(device)).map((t) => ({ ...t, shuffle: true }))];
}

/** The device's smallest subgroup, 0 where it has no subgroups for kernels to use. */
const subgroupMin = (device: GPUDevice): number => device.features.has('subgroups') ? device.adapterInfo?.subgroupMinSize ?? 0 : 0;

/**
 * The GEMM candidates on `device` for tiles of `rows` rows of `dtype` weights; the first is the
 * default. f16 tiles only on a device created with `f16Math`, for weights stored at f16 or below.
 */
export function gemmCandidates(device: GPUDevice, rows: BlockRows, dtype: WeightStorage): GemmTiles[] {
  const first = { bk: Math.min(16, rows), f16: false, shuffle: false }; // B tiles ≤ 8 KiB: within WebGPU's default 16 KiB
  // The default depth and deeper, each in every element and way of sharing A the device has: few
  // candidates (at most 12), as each costs a pipeline compile in the trial.
  const depths = [first.bk, 2 * first.bk, 4 * first.bk];
  const f16s = allowsF16Math(device) && STORAGES[dtype].narrow ? [false, true] : [false];
  const shuffles = subgroupMin(device) >= 4 ? [false, true] : [false]; // a run of AW ≥ 4 in a subgroup
  const all = f16s.flatMap((f16) => shuffles.flatMap((shuffle) => depths.map((bk) => ({ bk, f16, shuffle }))));
  return all.filter((t) => gemmBytes(rows, t) <= device.limits.maxComputeWorkgroupStorageSize);
}

/**
 * inputs_subgroup.wgsl AW: inputs a chunk, one a thread of an aligned run that must lie in one
 * subgroup and in one row group (TX = 256/rows threads), and divide the tile depth.
 */
export const gemmShuffleWidth = (device: GPUDevice, rows: BlockRows, t: GemmTiles): number => Math.min(subgroupMin(device), 256 / rows, t.bk);

/** Workgroup memory of moe_gemm.wgsl: A (unless shuffled) and two B tiles, BK deep, and a row index per tile row. */
const gemmBytes = (rows: number, t: GemmTiles): number => t.bk * ((t.shuffle ? 0 : rows) + 2 * (1024 / rows)) * (t.f16 ? 2 : 4) + 4 * rows + 8;

/**
 * moe_gemv.wgsl SLOTS for a one-expert call of `slots` slots: all of them up to 4 (the kernel's
 * SLOTS_MAX: 8 was slower on lavapipe, docs/benchmarks.md issue 24), rounded up to a power of two so
 * that few pipelines serve every batch size, and SLOTS · ROWS at most 8, the kernel's ROWS_MAX.
 * Not timed by the trial: its tiles are chosen for one slot, and SLOTS follows the call.
 */
export const gemvSlots = (t: GemvTiles, slots: number): number => Math.min(2 ** Math.ceil(Math.log2(Math.max(1, slots))), 4, 8 / t.rows);

/** Output columns one workgroup of moe_gemv.wgsl computes. */
export const gemvColumns = (t: GemvTiles): number => (64 / t.lanes) * t.rows;

/** What a choice is keyed by: the kernel, the storage and the shape of the matrix, not its weights. */
export const gemvKey = (m: Matrix): string => `gemv ${m.dtype} ${m.parts}x${m.outputs}x${m.inner}`;
/** GEMM tiles are kept per storage and tile height: one matrix per storage stands for all. */
export const gemmKey = (m: Pick<Matrix, 'dtype'>, rows: BlockRows): string => `gemm ${m.dtype} rows ${rows}`;

export function gemvTiles(device: GPUDevice, m: Matrix): GemvTiles {
  const candidates = gemvCandidates(device);
  return chosenTiles(device, gemvKey(m), candidates) ?? candidates[0];
}

export function gemmTiles(device: GPUDevice, m: Matrix, rows: BlockRows): GemmTiles {
  const candidates = gemmCandidates(device, rows, m.dtype);
  return chosenTiles(device, gemmKey(m, rows), candidates) ?? candidates[0];
}

const chosen = new WeakMap<GPUDevice, Map<string, string>>();

/**
 * The candidate chosen for `key` on this device, in this session or an earlier one in this browser
 * (in a worker, once a trial has read IndexedDB).
 */
export function chosenTiles<T>(device: GPUDevice, key: string, candidates: readonly T[]): T | undefined {
  const byKey = choices(device);
  let name = byKey.get(key);
  if (name === undefined) { // read localStorage once per key, not on every kernel launch
    name = storedTile(storageKey(device, key)) ?? '';
    byKey.set(key, name);
  }
  return candidates.find((c) => JSON.stringify(c) === name);
}

/** Keeps `t` for `key` on this device at once; resolves when it is stored for later sessions. */
export function setTiles<T>(device: GPUDevice, key: string, t: T): Promise<void> {
  choices(device).set(key, JSON.stringify(t));
  return storeTile(storageKey(device, key), JSON.stringify(t));
}

/** Every choice made on this device so far, by key: what a benchmark report records. */
export function tileChoices(device: GPUDevice): Record<string, unknown> {
  return Object.fromEntries([...choices(device)].filter(([, name]) => name).map(([key, name]) => [key, JSON.parse(name)]));
}

function choices(device: GPUDevice): Map<string, string> {
  let byKey = chosen.get(device);
  if (!byKey) chosen.set(device, byKey = new Map());
  return byKey;
}

const storageKey = (device: GPUDevice, key: string): string => {
  const info = device.adapterInfo;
  return `webmoe tiles ${info ? `${info.vendor} ${info.architecture} ${info.device} ${info.description}` : ''}: ${key}`;
};
