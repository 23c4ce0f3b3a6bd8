// Peer for `webmoe bench --peers`: dense MatMul and the MoE block (com.microsoft.QMoE, int4/int8
// weights) in onnxruntime-web's WebGPU execution provider, on webmoe's own GPUDevice (the EP's `device`
// option), in Node and on the benchmark page alike, each a one-node ONNX model (the weights
// initializers) written as protobuf bytes by onnx.mjs.
// Outside src/: the published package never imports it.
import * as ort from 'onnxruntime-web/webgpu';
import { matMulModel, qmoeModel } from './onnx.mjs';

export const name = 'ort-webgpu';

export { matMulModel } from './onnx.mjs';
/** What runPeerGemms / runPeerMoE (src/bench/peers.ts) time here. */
export const ops = ['gemm', 'qmoe'];

export async function open(device) {
  // ORT's wasm memory is a SharedArrayBuffer, and Dawn's node binding rejects views of one in
  // queue.writeBuffer ("Invalid argument"): in Node, hand it copies while the peer runs (close()
  // restores). A browser takes such views (and may have no SharedArrayBuffer at all: not isolated).
  // (On the prototype: the binding may hand out a new wrapper object per `device.queue` read.)
  const queue = Object.getPrototypeOf(device.queue);
  const writeBuffer = queue.writeBuffer;
  if (globalThis.process?.versions?.node) {
    queue.writeBuffer = function(buffer, offset, data, dataOffset, size) {
      if (ArrayBuffer.isView(data) && data.buffer instanceof SharedArrayBuffer) {
        const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
        const unit = data.BYTES_PER_ELEMENT ?? 1;
        const start = (dataOffset ?? 0) * unit;
        const end = size === undefined ? bytes.length : start + size * unit;
        return writeBuffer.call(this, buffer, offset, bytes.slice(start, end));
      }
      return writeBuffer.call(this, buffer, offset, data, dataOffset, size);
    };
  }
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = 'error';
  // The first session pays for compiling ORT's wasm (tens of seconds on a 2-core machine); sessions are
  // made in gemm(), before any timing, and each shape's first run is the warm-up.
  return {
    version: ort.env.versions?.web,
    async gemm(m, n, k, xHost, wHost) {
      const b = new Float32Array(k * n); // W[n,k] → B = Wᵀ [k,n]
      for (let j = 0; j < n; j++) for (let i = 0; i < k; i++) b[i * n + j] = wHost[j * k + i];
      const session = await ort.InferenceSession.create(matMulModel(m, n, k, b), {
        executionProviders: [{ name: 'webgpu', device }],
        preferredOutputLocation: 'gpu-buffer',
      });
      const [xBuf, x] = gpuInput(device, xHost, [m, k]);
      return gpuRunner(device, session, { X: x }, [xBuf]);
    },
    // The MoE block: one QMoE node (its model and attributes from onnx.mjs / src/bench/qmoe.ts), the
    // hidden states X[T,H] and router logits L[T,E] as GPU buffers, Y left on the GPU.
    async qmoe(s, w, xHost, logits, attrs) {
      const session = await ort.InferenceSession.create(qmoeModel(s, w, attrs), {
        executionProviders: [{ name: 'webgpu', device }],
        preferredOutputLocation: 'gpu-buffer',
        // The node runs on the WebGPU EP or the session fails: no silent fallback to the wasm CPU kernel.
        extra: { session: { disable_cpu_ep_fallback: '1' } },
      });
      const [xBuf, X] = gpuInput(device, xHost, [s.tokens, s.hidden]);
      const [lBuf, L] = gpuInput(device, logits, [s.tokens, s.experts]);
      return {
        ...gpuRunner(device, session, { X, L }, [xBuf, lBuf]),
        // With the Subgroups feature on the device (webmoe's device does not ask for it), ORT's QMoE
        // matmuls take the DP4A path: int8 activations (see ort-node.mjs).
        ...(device.features.has('subgroups') && { int8Activations: 128 }),
      };
    },
    close() {
      queue.writeBuffer = writeBuffer;
    },
  };
}

/** An f32 input in a GPU buffer on `device`, and ORT's tensor over it. */
function gpuInput(device, data, dims) {
  const buf = device.createBuffer({ size: data.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
  device.queue.writeBuffer(buf, 0, data);
  return [buf, ort.Tensor.fromGpuBuffer(buf, { dataType: 'float32', dims })];
}

/**
 * The timed call of `session` on GPU-resident `feeds`. Input and output stay on the GPU; session.run
 * returns once ORT has submitted its work, and onSubmittedWorkDone() on the shared queue waits for it:
 * submit → done, as webmoe's cases.
 */
function gpuRunner(device, session, feeds, buffers) {
  let y;
  return {
    async run() {
      y?.dispose();
      y = (await session.run(feeds)).Y;
      await device.queue.onSubmittedWorkDone();
    },
    async read() {
      return new Float32Array(await y.getData());
    },
    dispose() {
      y?.dispose();
      for (const b of buffers) b.destroy();
      session.release();
    },
  };
}
