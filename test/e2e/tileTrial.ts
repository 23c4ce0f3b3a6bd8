// The GEMV tile trial on a fresh device, in the test page or in a worker (tilesWorker.ts): what it
// timed and what the kernels then use.
import { createDevice } from '../../src/index.js';
import { gemvTiles } from '../../src/kernels/tiles.js';
import { tuneGemv } from '../../src/moe/tune.js';
import { destroyExpertMatrix, uploadExpertMatrix } from '../../src/weights/matrix.js';

export async function tileTrial(): Promise<{ timed: number; chosen: string }> {
  const device = await createDevice();
  const values = Float32Array.from({ length: 4 * 2 * 24 * 40 }, (_, i) => Math.sin(i));
  const m = uploadExpertMatrix(device, values, { experts: 4, parts: 2, outputs: 24, inner: 40 }, 'q4', 'trial test');
  const timed = (await tuneGemv(device, m, 2)).length;
  const chosen = JSON.stringify(gemvTiles(device, m));
  destroyExpertMatrix(m);
  device.destroy();
  return { timed, chosen };
}
