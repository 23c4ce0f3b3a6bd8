// Builds the scratch app (installed webmoe tarball in <dir>/node_modules) with Vite (dev server and
// build) and webpack, serves it and the plain-HTML page (import map, no bundler), and has each page
// in Chromium load the bundled model and answer, in the package's engine worker, the app's own
// (exposeEngine) or the page. Usage: node drive.mjs <dir>. Exits non-zero on any failure.
import { createReadStream, existsSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { extname, join } from 'node:path';
import { chromium } from 'playwright-core';
import { build, createServer as viteServer } from 'vite';
import webpack from 'webpack';

const dir = process.argv[2];
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.json': 'application/json', '.wasm': 'application/wasm' };

/** A static server of `root` (what any host does); resolves to its origin. */
function serve(root) {
  const server = createServer((req, res) => {
    let path = join(root, decodeURIComponent(new URL(req.url, 'http://x').pathname));
    if (existsSync(path) && statSync(path).isDirectory()) path = join(path, 'index.html');
    if (!existsSync(path)) return res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': TYPES[extname(path)] ?? 'application/octet-stream', 'Content-Length': statSync(path).size });
    createReadStream(path).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ origin: `http://127.0.0.1:${server.address().port}`, close: () => server.close() })));
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--no-sandbox', '--no-first-run', '--disable-background-networking'],
});
let failed = 0;

async function visit(what, url) {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  const t0 = Date.now();
  await page.goto(url);
  const out = page.locator('#out[data-done]');
  await out.waitFor({ timeout: 240_000 }).catch(() => {});
  const done = await out.getAttribute('data-done').catch(() => null);
  const text = await page.locator('#out').textContent();
  const ok = done === 'ok' && text.trim().length > 0;
  if (!ok) failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what} (${((Date.now() - t0) / 1000).toFixed(0)} s): ${JSON.stringify(text)}${ok ? '' : ` ${errors.join(' | ')}`}`);
  await page.close();
}

const app = join(dir, 'app');

// Vite's dev server: the package pre-bundled by Vite's dependency optimizer.
const dev = await viteServer({ root: app, logLevel: 'error', server: { host: '127.0.0.1', port: 0 } });
await dev.listen();
const devOrigin = `http://127.0.0.1:${dev.httpServer.address().port}`;
await visit('Vite dev, the package\'s worker', `${devOrigin}/?engine=worker`);
await dev.close();

// Vite's build.
await build({ root: app, logLevel: 'error' });
const vite = await serve(join(app, 'vite-dist'));
await visit('Vite build, the package\'s worker', `${vite.origin}/?engine=worker`);
await visit('Vite build, the app\'s worker (exposeEngine)', `${vite.origin}/?engine=own-worker`);
vite.close();

// webpack 5.
const config = createRequire(import.meta.url)(join(app, 'webpack.config.cjs'));
const stats = await new Promise((resolve, reject) => webpack(config, (e, s) => (e ? reject(e) : resolve(s))));
if (stats.hasErrors()) throw new Error(stats.toString('errors-only'));
writeFileSync(join(app, 'webpack-dist', 'index.html'), '<!doctype html><meta charset="utf-8"><pre id="out"></pre><script src="./main.js"></script>');
const wp = await serve(join(app, 'webpack-dist'));
await visit('webpack, the package\'s worker', `${wp.origin}/?engine=worker`);
wp.close();

// No bundler: the installed package served as it is, an import map naming its entry points.
const plain = await serve(app);
await visit('plain ESM (import map), the package\'s worker, a relative model URL', `${plain.origin}/plain.html?engine=url`);
await visit('plain ESM (import map), in the page', `${plain.origin}/plain.html?engine=page`);
plain.close();

await browser.close();
if (failed) {
  console.error(`web apps: ${failed} failed`);
  process.exit(1);
}
console.log('web apps: ok');
