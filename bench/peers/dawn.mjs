// navigator.gpu for peers that look for it (Node has none): Dawn's GPU, from the same `webgpu` package
// that webmoe/node uses (resolved from the checkout's node_modules).
export async function ensureNavigatorGpu() {
  if (globalThis.navigator?.gpu) return;
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  if (!globalThis.navigator) globalThis.navigator = {};
  Object.defineProperty(globalThis.navigator, 'gpu', { value: create([]), configurable: true });
}
