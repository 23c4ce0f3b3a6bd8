// Tile shapes of the expert kernels, chosen per device: the fastest differs between GPUs and a
// software adapter, so a short trial on the device picks one (tune.ts) and the choice is kept for
// the device (and, in a browser, in localStorage for the adapter). Untuned: defaults for GPUs.
import type { ExpertMatrix } from '../moe/weights.js';

/** moe_gemv.wgsl: LANES threads along K per column, ROWS columns per thread (64 threads). */
export interface GemvTiles { lanes: number; rows: number }

/** The candidates a trial times; the first is the default. */
export const GEMV_TILES: readonly GemvTiles[] = [
  { lanes: 16, rows: 2 }, { lanes: 8, rows: 2 }, { lanes: 8, rows: 4 }, { lanes: 32, rows: 4 }, { lanes: 64, rows: 8 },
];

/** Output columns one workgroup of moe_gemv.wgsl computes. */
export const gemvColumns = (t: GemvTiles): number => (64 / t.lanes) * t.rows;

const chosen = new WeakMap<GPUDevice, Map<string, GemvTiles>>();

/** What a choice is keyed by: the storage and the shape of the matrix, not its weights. */
export const gemvKey = (m: Pick<ExpertMatrix, 'dtype' | 'parts' | 'outputs' | 'inner'>): string =>
  `gemv ${m.dtype} ${m.parts}x${m.outputs}x${m.inner}`;

export function gemvTiles(device: GPUDevice, m: ExpertMatrix): GemvTiles {
  return chosenTiles(device, gemvKey(m)) ?? GEMV_TILES[0];
}

/** The tiles chosen for `key` on this device, from this session or an earlier one in this browser. */
export function chosenTiles(device: GPUDevice, key: string): GemvTiles | undefined {
  const own = chosen.get(device)?.get(key);
  if (own) return own;
  const stored = storage()?.getItem(storageKey(device, key));
  const t = stored ? GEMV_TILES.find((c) => `${c.lanes}x${c.rows}` === stored) : undefined;
  if (t) setTiles(device, key, t, false);
  return t;
}

export function setTiles(device: GPUDevice, key: string, t: GemvTiles, remember = true): void {
  let byKey = chosen.get(device);
  if (!byKey) chosen.set(device, (byKey = new Map()));
  byKey.set(key, t);
  if (remember) storage()?.setItem(storageKey(device, key), `${t.lanes}x${t.rows}`);
}

const storageKey = (device: GPUDevice, key: string): string => {
  const info = device.adapterInfo;
  return `webmoe tiles ${info ? `${info.vendor} ${info.architecture} ${info.device} ${info.description}` : ''}: ${key}`;
};

/** localStorage where there is one (browsers; not Node, not workers), else nothing is kept. */
function storage(): Storage | undefined {
  try {
    return (globalThis as { localStorage?: Storage }).localStorage;
  } catch {
    return undefined;  // access denied (opaque origins)
  }
}
