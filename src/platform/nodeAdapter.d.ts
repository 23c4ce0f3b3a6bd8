// Types of Comlink's node adapter, whose .mjs path TypeScript does not pair with its .d.ts.
declare module 'comlink/dist/esm/node-adapter.mjs' {
  export { default } from 'comlink/dist/esm/node-adapter';
}
