// navigator.gpu for peers that look for it, in Node (which has none; loadPeers in src/bench/peers.ts
// calls this before it loads them): Dawn's GPU, from the same `webgpu` package that webmoe/node uses
// (resolved from the checkout's node_modules). The benchmark page never loads this file.
export async function ensureNavigatorGpu() {
  if (globalThis.navigator?.gpu) return;
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  if (!globalThis.navigator) globalThis.navigator = {};
  Object.defineProperty(globalThis.navigator, 'gpu', { value: create([]), configurable: true });
}
