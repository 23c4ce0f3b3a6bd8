// The shard worker's entry in the browser (a module Worker): its experts on navigator.gpu's device.
import { expose } from 'comlink';
import { createDevice } from '../../gpu/device.js';
import { shardApi } from './shard.js';

expose(shardApi(() => createDevice()));
