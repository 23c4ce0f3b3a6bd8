// Loading @mlc-ai/web-xgrammar (grammar-constrained decoding, WASM) on demand: a 1 MB module that only
// structured output needs. The package is one UMD file in a "type": "module" package: bundlers
// (Vite, webpack) and browsers run it as an ES module, where its UMD wrapper finds no `exports` and
// puts the library on globalThis.xgrammar; Node's ES loader cannot run it at all (its Node branch
// calls `require`), so webmoe/node installs a loader that runs it as CommonJS (nodeXGrammar.ts).
export type XGrammar = typeof import('@mlc-ai/web-xgrammar');

const browserLoader = async (): Promise<XGrammar> => {
  const m = (await import('@mlc-ai/web-xgrammar')) as Partial<XGrammar> & { default?: XGrammar };
  const lib = m.GrammarCompiler ? (m as XGrammar) : m.default?.GrammarCompiler ? m.default : (globalThis as { xgrammar?: XGrammar }).xgrammar;
  if (!lib?.GrammarCompiler) throw new Error('webmoe: @mlc-ai/web-xgrammar loaded without its exports: structured output needs it');
  return lib;
};

let loader: () => Promise<XGrammar> = browserLoader;
let loaded: Promise<XGrammar> | undefined;

/** Replaces how the library is loaded (webmoe/node runs its file as CommonJS). */
export function setXGrammarLoader(load: () => Promise<XGrammar>): void {
  loader = load;
  loaded = undefined;
}

/** The library, loaded once. */
export function xgrammar(): Promise<XGrammar> {
  loaded ??= loader();
  loaded.catch(() => (loaded = undefined));
  return loaded;
}
