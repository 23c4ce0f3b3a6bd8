// The demo pages as `npm start` serves them: built by the demo's Vite config into a scratch folder,
// then served by `vite preview` on a free port.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, preview } from 'vite';

export const DEMO_CONFIG = 'demo/vite.config.ts';
export const SCREENSHOTS = 'test-results/screenshots';

export interface DemoServer {
  url: string;
  close(): Promise<void>;
}

export async function serveDemo(): Promise<DemoServer> {
  const outDir = mkdtempSync(join(tmpdir(), 'webmoe-demo-'));
  await build({ configFile: DEMO_CONFIG, logLevel: 'error', build: { outDir, emptyOutDir: true } });
  const server = await preview({
    configFile: DEMO_CONFIG,
    logLevel: 'error',
    build: { outDir },
    preview: { host: '127.0.0.1', port: 0, strictPort: false, open: false },
  });
  const address = server.httpServer.address();
  if (!address || typeof address === 'string') throw new Error('vite preview server has no port');
  return {
    url: `http://127.0.0.1:${address.port}/`,
    async close() {
      await server.close();
      rmSync(outDir, { recursive: true, force: true });
    },
  };
}
