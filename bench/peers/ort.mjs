// Peer for `webmoe bench --peers`: dense MatMul in onnxruntime-web's WebGPU execution provider, on
// webmoe's own GPUDevice (the EP's `device` option), with a one-node ONNX model (MatMul, the weight an
// initializer) written here as protobuf bytes. Outside src/: the published package never imports it.
import * as ort from 'onnxruntime-web/webgpu';
import { ensureNavigatorGpu } from './dawn.mjs';

export const name = 'ort-webgpu';

// --- a minimal protobuf writer: varints, length-delimited fields, enough for onnx.proto ---
function varint(v) {
  const out = [];
  let n = BigInt(v);
  do {
    let b = Number(n & 0x7fn);
    n >>= 7n;
    if (n > 0n) b |= 0x80;
    out.push(b);
  } while (n > 0n);
  return out;
}
const concat = (parts) => {
  const len = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(len);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
};
const fInt = (field, v) => Uint8Array.from([...varint(field << 3), ...varint(v)]);
const fBytes = (field, bytes) => concat([Uint8Array.from([...varint((field << 3) | 2), ...varint(bytes.length)]), bytes]);
const fStr = (field, s) => fBytes(field, new TextEncoder().encode(s));
const fMsg = (field, parts) => fBytes(field, concat(parts));

const FLOAT = 1;
const valueInfo = (field, name, dims) => fMsg(field, [
  fStr(1, name),
  fMsg(2, [fMsg(1, [fInt(1, FLOAT), fMsg(2, dims.map((d) => fMsg(1, [fInt(1, d)])))])]),  // TypeProto.tensor_type{elem_type, shape}
]);

/** ModelProto bytes of Y[m,n] = X[m,k] · B[k,n], B an initializer. */
export function matMulModel(m, n, k, b) {
  const initializer = fMsg(5, [fInt(1, k), fInt(1, n), fInt(2, FLOAT), fStr(8, 'B'),
    fBytes(9, new Uint8Array(b.buffer, b.byteOffset, b.byteLength))]);
  const node = fMsg(1, [fStr(1, 'X'), fStr(1, 'B'), fStr(2, 'Y'), fStr(4, 'MatMul')]);
  const graph = fMsg(7, [node, fStr(2, 'matmul'), initializer, valueInfo(11, 'X', [m, k]), valueInfo(12, 'Y', [m, n])]);
  return concat([fInt(1, 8) /* ir_version */, fStr(2, 'webmoe-bench'), graph, fMsg(8, [fStr(1, ''), fInt(2, 17)])]);
}

export async function open(device) {
  await ensureNavigatorGpu();
  // ORT's wasm memory is a SharedArrayBuffer, and Dawn's node binding rejects views of one in
  // queue.writeBuffer ("Invalid argument"): hand it copies while the peer runs (close() restores).
  // (On the prototype: the binding may hand out a new wrapper object per `device.queue` read.)
  const queue = Object.getPrototypeOf(device.queue);
  const writeBuffer = queue.writeBuffer;
  queue.writeBuffer = function (buffer, offset, data, dataOffset, size) {
    if (ArrayBuffer.isView(data) && data.buffer instanceof SharedArrayBuffer) {
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      const unit = data.BYTES_PER_ELEMENT ?? 1;
      const start = (dataOffset ?? 0) * unit;
      const end = size === undefined ? bytes.length : start + size * unit;
      return writeBuffer.call(this, buffer, offset, bytes.slice(start, end));
    }
    return writeBuffer.call(this, buffer, offset, data, dataOffset, size);
  };
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = 'error';
  // The first session pays for compiling ORT's wasm (tens of seconds on a 2-core machine); sessions are
  // made in gemm(), before any timing, and each shape's first run is the warm-up.
  return {
    version: ort.env.versions?.web,
    async gemm(m, n, k, xHost, wHost) {
      const b = new Float32Array(k * n);  // W[n,k] → B = Wᵀ [k,n]
      for (let j = 0; j < n; j++) for (let i = 0; i < k; i++) b[i * n + j] = wHost[j * k + i];
      const session = await ort.InferenceSession.create(matMulModel(m, n, k, b), {
        executionProviders: [{ name: 'webgpu', device }], preferredOutputLocation: 'gpu-buffer',
      });
      const xBuf = device.createBuffer({ size: xHost.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
      device.queue.writeBuffer(xBuf, 0, xHost);
      const x = ort.Tensor.fromGpuBuffer(xBuf, { dataType: 'float32', dims: [m, k] });
      let y;
      return {
        // Input and output stay on the GPU; session.run returns once ORT has submitted its work, and
        // onSubmittedWorkDone() on the shared queue waits for it: submit → done, as webmoe's cases.
        async run() {
          y?.dispose();
          y = (await session.run({ X: x })).Y;
          await device.queue.onSubmittedWorkDone();
        },
        async read() {
          return new Float32Array(await y.getData());
        },
        dispose() {
          y?.dispose();
          xBuf.destroy();
          session.release();
        },
      };
    },
    close() {
      queue.writeBuffer = writeBuffer;
    },
  };
}
