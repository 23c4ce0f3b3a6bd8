// The scratch app with Vite: `worker.format: 'es'` lets the engine worker's code split, as module workers can.
export default { worker: { format: 'es' }, build: { outDir: 'vite-dist' } };
