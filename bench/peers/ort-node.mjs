// The MoE block (com.microsoft.QMoE) in onnxruntime-node, the native ONNX Runtime: shared by
// ort-node-cpu.mjs (the CPU EP, MLAS kernels, all cores) and ort-node-webgpu.mjs (its WebGPU EP, which
// runs on its own Dawn instance inside libonnxruntime: it cannot take webmoe's GPUDevice, so it opens
// the first adapter its Dawn finds). The model is onnx.mjs's, as for ort.mjs.
import { availableParallelism } from 'node:os';
import ort from 'onnxruntime-node';
import { qmoeModel } from './onnx.mjs';

/** A peer module's open() for onnxruntime-node's `ep` ('cpu' or 'webgpu'). */
export function openNode(ep) {
  return async function open() {
    const supported = ort.listSupportedBackends?.() ?? [];
    if (!supported.some((b) => b.name === ep)) {
      throw new Error(`onnxruntime-node ${ort.env.versions?.node} on ${process.platform}/${process.arch} has no ${ep} EP ` +
        `(listSupportedBackends: ${supported.map((b) => b.name).join(', ')})`);
    }
    const threads = availableParallelism();
    return {
      version: ort.env.versions?.node,
      async qmoe(s, w, x, logits, attrs) {
        const session = await ort.InferenceSession.create(qmoeModel(s, w, attrs), {
          executionProviders: [ep],
          // CPU: all cores for the op (intra-op); one graph node, so no inter-op parallelism to set.
          ...(ep === 'cpu' && { intraOpNumThreads: threads, interOpNumThreads: 1 }),
          // On the WebGPU EP or not at all: no silent fallback to the CPU kernel.
          ...(ep === 'webgpu' && { extra: { session: { disable_cpu_ep_fallback: '1' } } }),
          graphOptimizationLevel: 'all',
        });
        const feeds = {
          X: new ort.Tensor('float32', x, [s.tokens, s.hidden]),
          L: new ort.Tensor('float32', logits, [s.tokens, s.experts]),
        };
        let y;
        return {
          // session.run returns when the output is on the host: for the WebGPU EP that includes the
          // uploads of X and L and the read-back of Y (T·H floats), which onnxruntime-node's API has no way around.
          async run() {
            y = (await session.run(feeds)).Y;
          },
          async read() {
            return new Float32Array(y.data);
          },
          dispose() {
            session.release();
          },
          note: ep === 'cpu' ?
            `onnxruntime-node ${ort.env.versions?.node} CPU EP, ${threads} threads` :
            `onnxruntime-node ${ort.env.versions?.node} WebGPU EP (its own Dawn device; host input/output included)`,
          // ORT's WebGPU QMoE runs its expert matmuls as MatMulNBits with accuracy_level 4 (fixed in
          // qmoe.cc); on a device with the Subgroups feature (ORT's own device has it where the adapter
          // offers it) f32 outputs then take the DP4A path, activations quantized to int8 per 128 along K.
          ...(ep === 'webgpu' && { int8Activations: 128 }),
        };
      },
      close() {},
    };
  };
}
