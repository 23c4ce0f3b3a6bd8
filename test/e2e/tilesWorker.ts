// A module worker (no localStorage): runs tileTrial() on its own device and posts the result.
import { tileTrial } from './tileTrial.js';

self.onmessage = async () => postMessage(await tileTrial());
