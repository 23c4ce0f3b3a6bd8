// The cache test page's engine worker, as an app writes its own.
import { exposeEngine } from '../../src/index.js';

exposeEngine();
