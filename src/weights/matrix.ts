// Stacked expert matrices on the GPU, split into bindings no larger than the device allows, stored in
// any weight format (format.ts).
import { storageBindingLimit } from '../gpu/limits.js';
import { uploadBuffer } from '../gpu/workspace.js';
import { type HostWeights, rawOf, storedRows } from './convert.js';
import { STORAGES, type WeightStorage } from './format.js';

/**
 * One binding: slots [e0,e1) × output columns [n0,n1), rows laid out [e1-e0][parts][n1-n0], each a
 * stored row of `inner` values (a format that splits rows in planes holds each plane of them in turn).
 */
export interface ExpertChunk {
  e0: number;
  e1: number;
  n0: number;
  n1: number;
  buffer: GPUBuffer;
}

/**
 * A stacked weight [experts][parts · outputs][inner] on the GPU. parts = 2 for a fused gate/up
 * projection (gate rows first, then up rows, as in Hugging Face's [E, 2I, H]), 1 for down [E, H, I].
 * It holds `experts` slots; the kernels find an expert's slot in a slot table (slotOf[e]), so a
 * matrix may hold all of a layer's experts in order (the table is the identity) or any subset.
 */
export interface ExpertMatrix {
  /** slots */
  experts: number;
  parts: 1 | 2;
  outputs: number;
  inner: number;
  dtype: WeightStorage;
  chunks: ExpertChunk[];
}

/** Expert weights handed to a layer: host arrays to upload, or a matrix on the GPU the layer takes over. */
export type ExpertWeights = HostWeights | ExpertMatrix;

export const isExpertMatrix = (w: unknown): w is ExpertMatrix => typeof w === 'object' && w !== null && 'chunks' in w;

export type ExpertShape = Pick<ExpertMatrix, 'experts' | 'parts' | 'outputs' | 'inner'>;

/** Bytes of one stored row of `inner` values (a quantized row carries its scales). */
export const rowBytes = (inner: number, dtype: WeightStorage): number => STORAGES[dtype].rowBytes(inner);

/** Bytes of one expert of a stacked matrix (placement budgets). */
export const expertBytes = (s: Omit<ExpertShape, 'experts'>, dtype: WeightStorage): number => s.parts * s.outputs * rowBytes(s.inner, dtype);

/** Bytes of one SwiGLU expert: its gate/up rows [2I, H] and down rows [H, I]. */
export const swigluExpertBytes = (H: number, I: number, dtype: WeightStorage): number =>
  expertBytes({ parts: 2, outputs: I, inner: H }, dtype) + expertBytes({ parts: 1, outputs: H, inner: I }, dtype);

/**
 * Splits a stacked matrix into bindings of at most `limitBytes`: whole experts while one fits,
 * otherwise ranges of output columns of one expert (a column keeps its gate and up rows together).
 */
export function planChunks(s: ExpertShape, dtype: WeightStorage, limitBytes: number, label = 'a matrix'): Omit<ExpertChunk, 'buffer'>[] {
  const columnBytes = s.parts * rowBytes(s.inner, dtype);
  const oneExpert = columnBytes * s.outputs;
  const chunks: Omit<ExpertChunk, 'buffer'>[] = [];
  if (oneExpert <= limitBytes) {
    const per = Math.floor(limitBytes / oneExpert);
    for (let e0 = 0; e0 < s.experts; e0 += per) {
      chunks.push({ e0, e1: Math.min(s.experts, e0 + per), n0: 0, n1: s.outputs });
    }
    return chunks;
  }
  const cols = Math.floor(limitBytes / columnBytes);
  if (cols === 0) {
    throw new RangeError(
      `webmoe: ${label}: one output column of an expert (${s.parts} × ${s.inner} ${dtype} inputs) needs ${columnBytes} bytes, ` +
        `over this device's storage binding limit of ${limitBytes} (maxStorageBufferBindingSize): the model's hidden or intermediate size is too large for it`,
    );
  }
  for (let e = 0; e < s.experts; e++) {
    for (let n0 = 0; n0 < s.outputs; n0 += cols) chunks.push({ e0: e, e1: e + 1, n0, n1: Math.min(s.outputs, n0 + cols) });
  }
  return chunks;
}

/** Uploads a stacked host matrix, converted to `dtype`, into as many bindings as the device needs. */
export function uploadExpertMatrix(
  device: GPUDevice,
  data: HostWeights,
  shape: ExpertShape,
  dtype: WeightStorage,
  label: string,
): ExpertMatrix {
  const { experts, parts, outputs, inner } = shape;
  const format = STORAGES[dtype];
  const chunks = planChunks(shape, dtype, storageBindingLimit(device), label).map((c) => {
    const span = (c.n1 - c.n0) * inner;
    const out = new Uint8Array((c.e1 - c.e0) * parts * (c.n1 - c.n0) * format.rowBytes(inner));
    let o = 0;
    for (let e = c.e0; e < c.e1; e++) {
      for (let p = 0; p < parts; p++) {
        const from = ((e * parts + p) * outputs + c.n0) * inner;
        const stored = storedRows(format, rawOf(data.subarray(from, from + span)), inner);
        out.set(stored, o);
        o += stored.length;
      }
    }
    return { ...c, buffer: uploadBuffer(device, inPlanes(out, planesOf(inner, dtype)), `${label} ${chunkName(c)}`) };
  });
  return { experts, parts, outputs, inner, dtype, chunks };
}

/** An unfilled matrix, for weights streamed in with writeExpertRows (never whole in host memory). */
export function createExpertMatrix(device: GPUDevice, shape: ExpertShape, dtype: WeightStorage, label: string): ExpertMatrix {
  const chunks = planChunks(shape, dtype, storageBindingLimit(device), label).map((c) => ({
    ...c,
    buffer: device.createBuffer({
      label: `${label} ${chunkName(c)}`,
      size: Math.ceil(((c.e1 - c.e0) * shape.parts * (c.n1 - c.n0) * rowBytes(shape.inner, dtype)) / 4) * 4,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    }),
  }));
  return { ...shape, dtype, chunks };
}

/** The bytes each plane of a stored row takes (one plane, the row, unless the format splits rows). */
const planesOf = (inner: number, dtype: WeightStorage): readonly number[] => STORAGES[dtype].planes?.(inner) ?? [rowBytes(inner, dtype)];

/** Plane `p` of whole stored rows: each row's bytes of that plane, back to back. */
function planeOf(stored: Uint8Array, planes: readonly number[], p: number): Uint8Array {
  if (planes.length === 1) return stored;
  const width = planes[p];
  const skip = planes.slice(0, p).reduce((a, b) => a + b, 0);
  const row = planes.reduce((a, b) => a + b, 0);
  const rows = stored.length / row;
  const out = new Uint8Array(rows * width);
  for (let r = 0; r < rows; r++) out.set(stored.subarray(r * row + skip, r * row + skip + width), r * width);
  return out;
}

/** Whole stored rows as a binding holds them: each plane of all of them in turn. */
function inPlanes(stored: Uint8Array, planes: readonly number[]): Uint8Array {
  if (planes.length === 1) return stored;
  const out = new Uint8Array(stored.length);
  let o = 0;
  for (let p = 0; p < planes.length; p++) {
    const bytes = planeOf(stored, planes, p);
    out.set(bytes, o);
    o += bytes.length;
  }
  return out;
}

/**
 * Writes whole stored rows (storedRows, convert.ts) of the stacked matrix, counted over its
 * [experts][parts][outputs] rows (the row order of a Hub tensor [E, 2I, H], or of one expert's [I, H]
 * at row (e·parts + part)·I).
 */
export function writeExpertRows(device: GPUDevice, m: ExpertMatrix, firstRow: number, stored: Uint8Array): void {
  const planes = planesOf(m.inner, m.dtype);
  for (let p = 0; p < planes.length; p++) writeExpertPlane(device, m, p, firstRow, planeOf(stored, planes, p));
}

/**
 * Writes plane `plane` of whole stored rows (that plane's bytes of each row, back to back), counted
 * as writeExpertRows counts them: a format that splits rows takes each plane as it comes
 * (weights/mxfp4Rows.ts).
 */
export function writeExpertPlane(device: GPUDevice, m: ExpertMatrix, plane: number, firstRow: number, bytes: Uint8Array): void {
  const planes = planesOf(m.inner, m.dtype);
  const width = planes[plane];
  const before = planes.slice(0, plane).reduce((a, b) => a + b, 0); // bytes of the earlier planes a row
  const rows = bytes.length / width;
  for (let r = 0; r < rows;) {
    const row = firstRow + r;
    const e = Math.floor(row / (m.parts * m.outputs));
    const part = Math.floor(row / m.outputs) % m.parts;
    const n = row % m.outputs;
    const c = m.chunks.find((k) => e >= k.e0 && e < k.e1 && n >= k.n0 && n < k.n1)!;
    const count = Math.min(rows - r, c.n1 - n);
    const chunkRows = (c.e1 - c.e0) * m.parts * (c.n1 - c.n0);
    const at = chunkRows * before + (((e - c.e0) * m.parts + part) * (c.n1 - c.n0) + n - c.n0) * width;
    if (at % 4 || (count * width) % 4) {
      throw new RangeError(`${m.dtype} rows of ${m.inner} values cannot be written at a 4-byte boundary: use dtype 'f32'`);
    }
    device.queue.writeBuffer(c.buffer, at, bytes as Uint8Array<ArrayBuffer>, r * width, count * width);
    r += count;
  }
}

const chunkName = (c: Omit<ExpertChunk, 'buffer'>): string => `experts ${c.e0}-${c.e1 - 1} cols ${c.n0}-${c.n1 - 1}`;

/** The matrix of `w` on the GPU: uploaded from host arrays, or `w` itself. */
export function toExpertMatrix(device: GPUDevice, w: ExpertWeights, shape: ExpertShape, dtype: WeightStorage, label: string): ExpertMatrix {
  return isExpertMatrix(w) ? w : uploadExpertMatrix(device, w, shape, dtype, label);
}

export function destroyExpertMatrix(m: ExpertMatrix): void {
  for (const c of m.chunks) c.buffer.destroy();
}
