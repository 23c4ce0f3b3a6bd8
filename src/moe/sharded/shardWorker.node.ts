// The shard worker's entry in Node (a worker_threads Worker): its experts on a Dawn device.
import { parentPort } from 'node:worker_threads';
import { expose } from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { createNodeDevice } from '../../gpu/nodeDevice.js';
import { shardApi } from './shard.js';

expose(shardApi(() => createNodeDevice()), nodeEndpoint(parentPort!));
