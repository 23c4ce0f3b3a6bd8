// The engine worker's entry in the browser (a module Worker): the model from a URL (kept in the Cache
// API or OPFS, as loadModel does) or File objects, on navigator.gpu's device. The page's thread never
// runs a kernel or parses a weight.
import { exposeEngine } from './exposeEngine.js';

exposeEngine();
