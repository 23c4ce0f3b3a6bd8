// Peer for `webmoe bench --peers`: dense MatMul in TensorFlow.js's WebGPU backend, on webmoe's own
// GPUDevice (the same adapter and queue), in Node (Dawn) and on the benchmark page alike. Lives outside
// src/ so that the published package never imports a peer; its imports resolve from
// bench/peers/node_modules.
import * as tf from '@tensorflow/tfjs-core';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';

export const name = 'tfjs-webgpu';

/** Opens the peer on `device`; returns gemm(m, n, k, x[m·k], w[n·k]) → y = x·wᵀ runners. */
export async function open(device) {
  // tfjs' own registration asks navigator.gpu for an adapter and device; giving the backend webmoe's
  // device instead keeps both libraries on one adapter and one queue, with nothing else in between.
  // Its constructor still checks navigator.gpu (isWebGPUSupported): a browser has its own; in Node,
  // loadPeers (src/bench/peers.ts) has put Dawn's there (dawn.mjs).
  // Under tfjs' own name: its kernels are registered for 'webgpu'.
  const backendName = 'webgpu';
  if (tf.findBackendFactory(backendName)) tf.removeBackend(backendName);
  tf.registerBackend(backendName, () => new WebGPUBackend(device, device.adapterInfo));
  if (!(await tf.setBackend(backendName))) throw new Error('tfjs could not start its WebGPU backend on this device');
  await tf.ready();
  const backend = tf.backend();
  return {
    version: tf.version_core,
    gemm(m, n, k, xHost, wHost) {
      const x = tf.tensor2d(xHost, [m, k]);
      const w = tf.tensor2d(wHost, [n, k]);
      let y;
      return {
        // One product, timed to the GPU's end: tfjs records into its own command encoder and submits
        // lazily, so endComputePassEncoder() + submitQueue() flush it (as its own read path does), and
        // onSubmittedWorkDone() on the shared queue waits for the work: the same submit → done wall
        // time as webmoe's cases (plus tfjs' own encoding, which is part of its cost), without the
        // read-back that `await y.data()` would add (a copy and a map of the output).
        async run() {
          y?.dispose();
          y = tf.matMul(x, w, false, true);
          backend.endComputePassEncoder();
          backend.submitQueue();
          await device.queue.onSubmittedWorkDone();
        },
        async read() {
          return new Float32Array(await y.data());
        },
        dispose() {
          y?.dispose();
          x.dispose();
          w.dispose();
        },
      };
    },
    // tfjs picks its MatMul program by shape; at M ≤ 8 with K ≥ 2000 that is MatMulSplitKProgram
    // (f32 atomics), whose output is wrong on Mesa lavapipe (relative error ~1.7). A wrong answer is no
    // result, so the bench then asks for tfjs' next choice for few-workgroup shapes instead, and says so.
    fallback() {
      tf.env().set('WEBGPU_MATMUL_PROGRAM_TYPE', 2 /* MatMulProgramType.MatMulSmallOutputSizeProgram */);
      return 'MatMulSmallOutputSizeProgram (its default program was wrong here)';
    },
    reset() {
      tf.env().set('WEBGPU_MATMUL_PROGRAM_TYPE', -1);
    },
    close() {
      tf.removeBackend(backendName);
    },
  };
}
