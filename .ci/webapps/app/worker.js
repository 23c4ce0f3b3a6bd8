// The app's own engine worker: what exposeEngine() is for.
import { exposeEngine } from 'webmoe';

exposeEngine();
