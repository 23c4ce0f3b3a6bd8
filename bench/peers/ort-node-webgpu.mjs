// Peer for `webmoe bench --peers`: the MoE block as com.microsoft.QMoE on onnxruntime-node's WebGPU EP
// (native Dawn inside libonnxruntime, bundled in the Linux x64 build: listSupportedBackends() lists
// 'webgpu'); it opens its own device, not webmoe's (see ort-node.mjs).
import { openNode } from './ort-node.mjs';

export const name = 'ort-node-webgpu';
/** What runPeerMoE (src/bench/peers.ts) times here: the MoE block only. */
export const ops = ['qmoe'];
export const open = openNode('webgpu');
