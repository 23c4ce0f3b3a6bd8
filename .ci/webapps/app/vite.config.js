// The scratch app with Vite: nothing webmoe needs, only where the build goes.
export default { build: { outDir: 'vite-dist' } };
