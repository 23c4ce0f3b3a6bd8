// Peer for `webmoe bench --peers`: the MoE block as com.microsoft.QMoE on onnxruntime-node's CPU EP
// (native, multi-threaded), the CPU baseline (see ort-node.mjs). It has no GPU work: the device is unused.
import { openNode } from './ort-node.mjs';

export const name = 'ort-node-cpu';
/** What runPeerMoE (src/bench/peers.ts) times here: the MoE block only. */
export const ops = ['qmoe'];
export const open = openNode('cpu');
