// The scratch app with webpack 5: workers and the model's files from `new URL('…', import.meta.url)`.
module.exports = {
  mode: 'production',
  context: __dirname,
  entry: './main.js',
  output: { path: `${__dirname}/webpack-dist`, clean: true },
  performance: { hints: false }, // the bundled model is 21 MB
  // @mlc-ai/web-xgrammar (structured output) has a Node-only `import('module')` that webpack 5 must be
  // told to leave out; Vite needs nothing.
  resolve: { fallback: { module: false } },
};
