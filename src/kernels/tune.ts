// The on-device trial behind tiles.ts: each candidate tile shape runs the decode GEMV on a real
// expert matrix, the fastest is kept for matrices of that shape on the device.
import { medianMs } from '../bench/timing.js';
import { Workspace } from '../gpu/workspace.js';
import type { ExpertMatrix } from '../moe/weights.js';
import { indexedGemv } from './expertMatmul.js';
import { chosenTiles, GEMV_TILES, gemvKey, type GemvTiles, setTiles } from './tiles.js';

export interface TileTrial { key: string; tiles: GemvTiles; ms: number }

/**
 * Times every GEMV candidate on `m` for a decode step of `slots` slots (one per expert, as `topK`
 * experts of one token) and keeps the fastest. A shape tuned before on this device is not timed again.
 */
export async function tuneGemv(device: GPUDevice, m: ExpertMatrix, slots: number, runs = 3): Promise<TileTrial[]> {
  const key = gemvKey(m);
  if (chosenTiles(device, key)) return [];
  const ws = new Workspace(device);
  const ids = Uint32Array.from({ length: slots }, (_, s) => s % m.experts);
  const a = Float32Array.from({ length: slots * m.inner }, (_, i) => Math.sin(i));
  const io = {
    a: ws.upload(a, 'trial a'), ids: ws.upload(ids, 'trial ids'),
    routeW: ws.upload(new Float32Array(slots).fill(1), 'trial routeW'), out: ws.buffer(slots * m.outputs * 4, 'trial out'),
  };
  const trials: TileTrial[] = [];
  try {
    for (const tiles of GEMV_TILES) {
      const dispatches = indexedGemv(ws, m, io, slots, slots, tiles);
      const ms = await medianMs(device, (enc) => {
        const pass = enc.beginComputePass({ label: 'tile trial' });
        for (let r = 0; r < 4; r++) for (const d of dispatches) d(pass);  // long enough to time by wall clock
        pass.end();
      }, runs);
      trials.push({ key, tiles, ms: ms / 4 });
    }
  } finally {
    ws.destroy();
  }
  setTiles(device, key, trials.reduce((a, b) => (b.ms < a.ms ? b : a)).tiles);
  return trials;
}
