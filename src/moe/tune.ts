// The on-device trial behind tiles.ts: each candidate runs its kernel on a real expert matrix, and
// the fastest is kept for matrices of that key on the device.
import { medianMs, randomArray } from '../gpu/timing.js';
import type { Dispatch } from '../gpu/workspace.js';
import { Workspace } from '../gpu/workspace.js';
import { destroyExpertMatrix, type ExpertMatrix, uploadExpertMatrix } from '../weights/matrix.js';
import { loadStoredTiles } from '../kernels/tileStore.js';
import { chosenTiles, gemmCandidates, gemmKey, type GemmTiles, gemvCandidates, gemvKey, type GemvTiles, setTiles } from '../kernels/tiles.js';
import type { WeightStorage } from '../weights/format.js';
import { expertMatmul, fixedSlots, identitySlots, type Slots } from './matmul.js';

/** The most one trial may spend compiling candidates, judged from its first. */
const COMPILE_BUDGET_MS = 1000;

export interface TileTrial {
  key: string;
  tiles: GemvTiles | GemmTiles;
  ms: number;
}

/**
 * Times every GEMV candidate on `m` for a decode step of `slots` slots (one per expert, as `topK`
 * experts of one token) and keeps the fastest. A shape tuned before on this device is not timed again.
 * Where compiling the candidates would take over `compileBudgetMs`, the default is kept untimed.
 */
export function tuneGemv(device: GPUDevice, m: ExpertMatrix, slots: number, runs = 3, compileBudgetMs = COMPILE_BUDGET_MS): Promise<TileTrial[]> {
  return trial(device, gemvKey(m), gemvCandidates(device), runs, compileBudgetMs, (ws) => {
    const ids = Uint32Array.from({ length: slots }, (_, s) => s % m.experts);
    return run(ws, m, fixedSlots(ws, ids, new Float32Array(slots).fill(1), 1, slots, { gemv: true }));
  });
}

/**
 * Times every GEMM candidate for `dtype` weights of `inner` inputs, for each tile height, and keeps
 * the fastest per height. The ranking follows the device and the storage, so a small matrix of
 * random weights (2 experts × 128 gated columns, K ≤ 256, one block of rows each) keeps it short.
 */
export async function tuneGemm(
  device: GPUDevice,
  dtype: WeightStorage,
  inner: number,
  runs = 3,
  compileBudgetMs = COMPILE_BUDGET_MS,
): Promise<TileTrial[]> {
  const shape = { experts: 2, parts: 2 as const, outputs: 128, inner: Math.min(inner, 256) };
  const m = uploadExpertMatrix(device, randomArray(shape.experts * shape.parts * shape.outputs * shape.inner, 1, 0.05), shape, dtype, 'trial weights');
  const trials: TileTrial[] = [];
  try {
    for (const rows of [8, 16, 32] as const) {
      trials.push(...await trial(device, gemmKey(m, rows), gemmCandidates(device, rows, dtype), runs, compileBudgetMs, (ws) => {
        const slots = shape.experts * rows; // one slot a row (topK 1), one block of rows an expert
        const ids = Uint32Array.from({ length: slots }, (_, s) => Math.floor(s / rows));
        return run(ws, m, fixedSlots(ws, ids, new Float32Array(slots).fill(1), slots, 1, { gemv: false, rows }));
      }));
    }
  } finally {
    destroyExpertMatrix(m);
  }
  return trials;
}

/** The launches of `m` on the slots with given tiles: inputs, a slot table and an output of their own. */
function run(ws: Workspace, m: ExpertMatrix, s: Slots): (tiles: GemvTiles | GemmTiles) => Dispatch[] {
  const rows = s.tokens * s.topK;
  const a = ws.upload(Float32Array.from({ length: rows * m.inner }, (_, i) => Math.sin(i)), 'trial a');
  const slotOf = ws.upload(identitySlots(m.experts), 'trial slot table');
  const out = ws.buffer(rows * m.outputs * 4, 'trial out');
  return (tiles) => expertMatmul(ws, m, slotOf, s, a, out, tiles);
}

const timedOn = new WeakMap<GPUDevice, TileTrial[]>();

/** Every candidate timed on this device so far: what a benchmark report records. */
export const tileTrials = (device: GPUDevice): TileTrial[] => timedOn.get(device) ?? [];

async function trial<T extends GemvTiles | GemmTiles>(
  device: GPUDevice,
  key: string,
  candidates: T[],
  runs: number,
  compileBudgetMs: number,
  setup: (ws: Workspace) => (tiles: T) => Dispatch[],
): Promise<TileTrial[]> {
  // Nothing to choose (one candidate: the default the kernels use), or chosen before.
  await loadStoredTiles();
  if (candidates.length < 2 || chosenTiles(device, key, candidates)) return [];
  const ws = new Workspace(device);
  const trials: TileTrial[] = [];
  try {
    const build = setup(ws);
    const time = (dispatches: Dispatch[], reps: number, n: number) =>
      medianMs(device, (enc) => {
        const pass = enc.beginComputePass({ label: 'tile trial' });
        for (let r = 0; r < reps; r++) for (const d of dispatches) d(pass);
        pass.end();
      }, n);
    const t0 = performance.now();
    const once = await time(build(candidates[0]), 1, 1);
    // What a candidate costs besides its runs: its pipeline's compile (and the warm-up's overhead).
    // Where that is slow, as on a software device in a browser, the trial keeps the default.
    const compileMs = performance.now() - t0 - 2 * once;
    if (compileMs * (candidates.length - 1) > compileBudgetMs) {
      trials.push({ key, tiles: candidates[0], ms: once });
    } else {
      // Enough repeats for about 4 ms a submission: long enough to time by wall clock, short on slow devices.
      const reps = Math.min(8, Math.ceil(4 / Math.max(once, 0.5)));
      for (const tiles of candidates) trials.push({ key, tiles, ms: (await time(build(tiles), reps, runs)) / reps });
    }
  } finally {
    ws.destroy();
  }
  timedOn.set(device, [...tileTrials(device), ...trials]);
  await setTiles(device, key, trials.reduce((a, b) => (b.ms < a.ms ? b : a)).tiles);
  return trials;
}
