// One expert's weights as the GPU stores them (each matrix's rows, plane by plane: MXFP4 codes and
// scales), gathered on the host as its rows arrive, then written into a GPU slot.
import { STORAGES, type WeightStorage } from '../../weights/format.js';
import { type ExpertMatrix, writeExpertPlane } from '../../weights/matrix.js';

export type Which = 'gateUp' | 'down';

/** The rows of each matrix of one expert and the bytes a row takes in each plane. */
export interface PackedShape {
  dtype: WeightStorage;
  gateUp: { rows: number; planes: readonly number[] };
  down: { rows: number; planes: readonly number[] };
}

export function packedShape(hidden: number, intermediate: number, dtype: WeightStorage): PackedShape {
  const f = STORAGES[dtype];
  const planes = (inner: number) => f.planes?.(inner) ?? [f.rowBytes(inner)];
  return { dtype, gateUp: { rows: 2 * intermediate, planes: planes(hidden) }, down: { rows: hidden, planes: planes(intermediate) } };
}

export class PackedExpert {
  readonly planes: Record<Which, Uint8Array<ArrayBuffer>[]>;
  readonly bytes: number;
  private missing: number;

  constructor(private readonly shape: PackedShape) {
    const make = (w: Which) => shape[w].planes.map((width) => new Uint8Array(shape[w].rows * width));
    this.planes = { gateUp: make('gateUp'), down: make('down') };
    this.bytes = [...this.planes.gateUp, ...this.planes.down].reduce((n, p) => n + p.length, 0);
    this.missing = this.bytes;
  }

  get complete(): boolean {
    return this.missing === 0;
  }

  /** Plane `plane` of the expert's rows `row`… of matrix `which` (that plane's bytes of each row, back to back). */
  put(which: Which, plane: number, row: number, bytes: Uint8Array): void {
    this.planes[which][plane].set(bytes, row * this.shape[which].planes[plane]);
    this.missing -= bytes.length;
  }

  /** Writes the expert into slot `slot` of the matrices. */
  upload(device: GPUDevice, m: Record<Which, ExpertMatrix>, slot: number): void {
    for (const w of ['gateUp', 'down'] as const) {
      this.planes[w].forEach((bytes, p) => writeExpertPlane(device, m[w], p, slot * this.shape[w].rows, bytes));
    }
  }
}
