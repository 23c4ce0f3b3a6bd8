// Buffers and bind groups made for one shape of work, destroyed together.

/** Encodes one kernel launch into a compute pass. */
export type Dispatch = (pass: GPUComputePassEncoder) => void;

export const f32Bits = (v: number): number => new Uint32Array(new Float32Array([v]).buffer)[0];

let launches = 0;

/** Kernel launches recorded so far in this process, by every workspace: what the benchmark counts a decode step by. */
export const launchCount = (): number => launches;

export class Workspace {
  private owned: GPUBuffer[] = [];
  private readonly scratches = new Map<string, GPUBuffer>();

  constructor(readonly device: GPUDevice) {}

  /** A storage buffer the kernels read and write (size rounded up to 4 bytes). */
  buffer(bytes: number, label: string): GPUBuffer {
    return this.own(this.device.createBuffer({
      label,
      size: Math.max(4, Math.ceil(bytes / 4) * 4),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    }));
  }

  /**
   * A storage buffer shared by everyone who asks for the same key and size in this workspace: for
   * intermediates that blocks recorded one after another use in turn (each layer's q, k, v).
   */
  scratch(key: string, bytes: number): GPUBuffer {
    const k = `${key} ${bytes}`;
    let b = this.scratches.get(k);
    if (!b) this.scratches.set(k, b = this.buffer(bytes, key));
    return b;
  }

  /** A storage buffer holding `data`. */
  upload(data: ArrayBufferView, label: string): GPUBuffer {
    return this.own(uploadBuffer(this.device, data, label));
  }

  /** A uniform buffer of u32 words (f32 fields go in as f32Bits). */
  uniform(words: number[], label: string): GPUBuffer {
    const padded = new Uint32Array(Math.ceil(words.length / 4) * 4);
    padded.set(words);
    return this.own(uploadBuffer(this.device, padded, label, GPUBufferUsage.UNIFORM));
  }

  /** Launches `pipeline` over `grid` workgroups with `buffers` bound at bindings 0, 1, 2, … */
  dispatch(pipeline: GPUComputePipeline, buffers: GPUBuffer[], grid: [number, number?, number?]): Dispatch {
    const group = this.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    return (pass) => {
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(...grid);
      launches++;
    };
  }

  destroy(): void {
    for (const b of this.owned) b.destroy();
    this.owned = [];
    this.scratches.clear();
  }

  private own(b: GPUBuffer): GPUBuffer {
    this.owned.push(b);
    return b;
  }
}

/** A buffer created holding `data`, with STORAGE | COPY_SRC | COPY_DST unless `usage` says otherwise. */
export function uploadBuffer(device: GPUDevice, data: ArrayBufferView, label: string, usage?: number): GPUBuffer {
  const size = Math.max(4, Math.ceil(data.byteLength / 4) * 4);
  const buffer = device.createBuffer({
    label,
    size,
    usage: (usage ?? GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC) | GPUBufferUsage.COPY_DST,
    mappedAtCreation: true,
  });
  new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  buffer.unmap();
  return buffer;
}

/** Copies buffers back to the CPU in one submission. */
export async function readBuffers(device: GPUDevice, sources: GPUBuffer[], encoder?: GPUCommandEncoder): Promise<ArrayBuffer[]> {
  const enc = encoder ?? device.createCommandEncoder();
  const staging = sources.map((src) => stageRead(device, enc, src));
  device.queue.submit([enc.finish()]);
  return Promise.all(staging.map(mapRead));
}

/** Records a copy of `src` (or its bytes offset … offset + size) into a new mappable buffer, for mapRead once `encoder` is submitted. */
export function stageRead(device: GPUDevice, encoder: GPUCommandEncoder, src: GPUBuffer, offset = 0, size = src.size - offset): GPUBuffer {
  const s = device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  encoder.copyBufferToBuffer(src, offset, s, 0, size);
  return s;
}

/** The contents of a buffer from stageRead (which it destroys). */
export async function mapRead(s: GPUBuffer): Promise<ArrayBuffer> {
  await s.mapAsync(GPUMapMode.READ);
  const copy = s.getMappedRange().slice(0);
  s.destroy();
  return copy;
}
