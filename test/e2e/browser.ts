// A real browser for tests: Debian's Chromium (never a downloaded one), headless, WebGPU on
// SwiftShader, loading the package's source through Vite's dev server.
import { existsSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface BrowserPage {
  page: Page;
  close(): Promise<void>;
}

function needChromium(): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (see .ci/install-system), or set CHROMIUM_PATH`);
  }
}

/** Headless Chromium with WebGPU (SwiftShader where there is no GPU). */
export async function launchChromium(): Promise<Browser> {
  needChromium();
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--no-sandbox', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

/** Opens a test page (a path under the repository root) served by Vite's dev server. */
export async function openPage(path = 'test/e2e/page.html'): Promise<BrowserPage> {
  needChromium();
  const server: ViteDevServer = await createServer({
    configFile: false,
    logLevel: 'error',
    server: { host: '127.0.0.1', port: 0, hmr: false },
  });
  await server.listen();
  const address = server.httpServer!.address();
  if (!address || typeof address === 'string') throw new Error('vite dev server has no port');
  const browser = await launchChromium();
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  await page.goto(`http://127.0.0.1:${address.port}/${path}`);
  return {
    page,
    async close() {
      await browser.close();
      await server.close();
    },
  };
}
