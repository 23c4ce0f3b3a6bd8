// MXFP4 experts as gpt-oss's Hub checkpoints store them, into a matrix in the mxfp4 format
// (formats/mxfp4.ts) with the file's bytes: the blocks tensor [E, R, K/32, 16] U8 (the codes, two a
// byte) into the code plane, the scales tensor [E, R, K/32] U8 (E8M0) into the scale plane, each as it
// streams (the file holds the whole blocks tensor before the scales), in runs of whole rows (or, for
// experts that live elsewhere, handed on plane by plane: the expert-parallel scheduler's workers).
// File row r of an expert lands at its matrix row rowOf(r): gpt-oss interleaves gate and up rows (2i
// gate i, 2i + 1 up i), a gated matrix holds gate rows, then up rows.
import type { RawRows, RowSink } from '../io/checkpoint.js';
import { SafetensorsError } from '../io/error.js';
import { mxBlocks, MXFP4 } from './formats/mxfp4.js';
import { type ExpertMatrix, writeExpertPlane } from './matrix.js';

/** Writes `bytes`, plane `plane` (0 the codes, 1 the scales, a row padded to a word) of rows firstRow… of an mxfp4 matrix. */
export type Mxfp4PlaneWriter = (plane: number, firstRow: number, bytes: Uint8Array<ArrayBuffer>) => void | Promise<void>;

/** [E, R, K]: E experts of R rows of K inputs. */
export type Mxfp4Shape = readonly [number, number, number];

/** The shapes of the Hub's blocks and scales tensors of an [E, R, K] weight. */
export const mxfp4TensorShapes = ([E, R, K]: Mxfp4Shape): { blocks: number[]; scales: number[] } => ({
  blocks: [E, R, mxBlocks(K), 16],
  scales: [E, R, mxBlocks(K)],
});

/**
 * Sinks that write an [E, R, K] weight's blocks and scales tensors into `m` (E slots, R = parts ·
 * outputs, inner K, mxfp4). `scales` names the scales tensor and its file in errors: a scale byte of
 * 255 (NaN in E8M0) is refused.
 */
export function mxfp4Sinks(
  device: GPUDevice,
  m: ExpertMatrix,
  shape: Mxfp4Shape,
  scales: { name: string; file: string },
  rowOf?: (r: number) => number,
): { blocks: RowSink; scales: RowSink } {
  const [E, R, K] = shape;
  if (m.dtype !== 'mxfp4' || m.experts !== E || m.parts * m.outputs !== R || m.inner !== K) {
    throw new RangeError(
      `webmoe: MXFP4 weights [${shape}] go into an mxfp4 matrix of ${E} experts × ${R} rows × ${K} inputs, got ${m.dtype} ${m.experts} × ${
        m.parts * m.outputs
      } × ${m.inner}`,
    );
  }
  return mxfp4PlaneSinks(shape, scales, (plane, firstRow, bytes) => writeExpertPlane(device, m, plane, firstRow, bytes), rowOf);
}

/**
 * The same sinks for planes handed to `write`, rows counted over the matrix's [E][R] rows, in runs
 * of consecutive rows (the bytes are the call's own; the sinks wait for what `write` returns).
 */
export function mxfp4PlaneSinks(
  shape: Mxfp4Shape,
  scales: { name: string; file: string },
  write: Mxfp4PlaneWriter,
  rowOf: (r: number) => number = (r) => r,
): { blocks: RowSink; scales: RowSink } {
  const [, R, K] = shape;
  const [codeBytes, scaleBytes] = MXFP4.planes!(K);
  const dest = destinations(R, rowOf);
  const blocks = mxBlocks(K);
  return {
    blocks: wholeRows(codeBytes, 16, (firstRow, rows) => writeMapped(write, 0, codeBytes, dest, firstRow, rows, codeBytes)),
    scales: (firstRow, raw) => {
      const nan = raw.bytes.indexOf(255);
      if (nan >= 0) {
        const row = firstRow + Math.floor(nan / blocks);
        throw new SafetensorsError(scales.file, `scale byte 255 (NaN in E8M0) at expert ${Math.floor(row / R)}, row ${row % R}, block ${nan % blocks}`,
          scales.name);
      }
      return writeMapped(write, 1, scaleBytes, dest, firstRow, raw.bytes, blocks);
    },
  };
}

/** The matrix row, within an expert, of each file row; rowOf must be a permutation of 0 … R−1. */
function destinations(R: number, rowOf: (r: number) => number): Int32Array {
  const dest = Int32Array.from({ length: R }, (_, r) => rowOf(r));
  const seen = new Uint8Array(R);
  for (const d of dest) {
    if (!(d >= 0 && d < R) || seen[d]++) throw new RangeError(`webmoe: MXFP4 rowOf must map the ${R} rows of an expert onto themselves, one to one`);
  }
  return dest;
}

/**
 * Writes file rows firstRow … (of `rowBytes` each, at most `width`: a scale row is padded to a word)
 * into plane `plane` at their matrix rows: sorted by destination, in runs of consecutive rows.
 */
async function writeMapped(write: Mxfp4PlaneWriter, plane: number, width: number, dest: Int32Array, firstRow: number, rows: Uint8Array,
  rowBytes: number): Promise<void>
{
  const R = dest.length;
  const n = rows.length / rowBytes;
  const to = Array.from({ length: n }, (_, i) => {
    const f = firstRow + i;
    return f - (f % R) + dest[f % R];
  });
  const order = [...to.keys()].sort((a, b) => to[a] - to[b]);
  const staged = new Uint8Array(n * width);
  order.forEach((i, j) => staged.set(rows.subarray(i * rowBytes, (i + 1) * rowBytes), j * width));
  const written: (void | Promise<void>)[] = [];
  for (let j = 0; j < n;) {
    let end = j + 1;
    while (end < n && to[order[end]] === to[order[end - 1]] + 1) end++;
    written.push(write(plane, to[order[j]], staged.subarray(j * width, end * width)));
    j = end;
  }
  await Promise.all(written);
}

/**
 * A sink of a tensor's rows (of `tensorRowBytes`) regrouped into rows of `rowBytes` (a whole number of
 * its own rows): the pieces streamTensors hands out end anywhere, so the part of a row that ends a piece
 * waits for the next. A piece that starts with nothing held starts where its first row says (a second
 * read of one expert's rows: the expert cache).
 */
function wholeRows(rowBytes: number, tensorRowBytes: number, sink: (firstRow: number, rows: Uint8Array) => Promise<void>): RowSink {
  let held = new Uint8Array(0);
  let next = 0; // the first row not yet handed on
  return async (firstRow, raw: RawRows) => {
    if (!held.length) next = (firstRow * tensorRowBytes) / rowBytes;
    let bytes = raw.bytes;
    if (held.length) {
      const head = bytes.subarray(0, rowBytes - held.length);
      const row = new Uint8Array(held.length + head.length);
      row.set(held);
      row.set(head, held.length);
      bytes = bytes.subarray(head.length);
      if (row.length < rowBytes) {
        held = row;
        return;
      }
      await sink(next++, row);
    }
    const whole = bytes.length - (bytes.length % rowBytes);
    const first = next;
    next += whole / rowBytes;
    held = bytes.slice(whole);
    if (whole) await sink(first, bytes.subarray(0, whole));
  };
}
