// Reading a matrix back from its bindings: the layout of each binding (rows [slots][parts][columns],
// each plane of them in turn) spelled out here again, apart from src/weights/matrix.ts.
import { expect } from 'vitest';
import { readBuffers } from '../../src/gpu/workspace.js';
import { STORAGES } from '../../src/weights/format.js';
import type { ExpertMatrix } from '../../src/weights/matrix.js';

/** The values `m` holds, [experts][parts][outputs][inner], as its format unpacks them. */
export async function readMatrix(device: GPUDevice, m: ExpertMatrix): Promise<Float32Array> {
  const format = STORAGES[m.dtype];
  const planes = format.planes?.(m.inner) ?? [format.rowBytes(m.inner)];
  const rowBytes = format.rowBytes(m.inner);
  const out = new Float32Array(m.experts * m.parts * m.outputs * m.inner);
  const buffers = await readBuffers(device, m.chunks.map((c) => c.buffer));
  m.chunks.forEach((c, i) => {
    const bytes = new Uint8Array(buffers[i]);
    const cols = c.n1 - c.n0;
    const rows = (c.e1 - c.e0) * m.parts * cols;
    expect(bytes.length).toBe(rows * rowBytes); // the binding holds exactly its rows
    const stored = new Uint8Array(rows * rowBytes);
    let at = 0; // where the plane starts in the binding
    let skip = 0; // where the plane starts in a stored row
    for (const width of planes) {
      for (let r = 0; r < rows; r++) stored.set(bytes.subarray(at + r * width, at + (r + 1) * width), r * rowBytes + skip);
      at += rows * width;
      skip += width;
    }
    const values = format.unpack(stored, m.inner);
    for (let r = 0; r < rows; r++) {
      const e = c.e0 + Math.floor(r / (m.parts * cols));
      const part = Math.floor(r / cols) % m.parts;
      const n = c.n0 + (r % cols);
      out.set(values.subarray(r * m.inner, (r + 1) * m.inner), ((e * m.parts + part) * m.outputs + n) * m.inner);
    }
  });
  return out;
}
