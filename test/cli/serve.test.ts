// `webmoe serve`, run in-process on the mixtral fixture: one line once it listens (the URL), the key
// from WEBMOE_API_KEY, a clean stop on SIGTERM (the server closed); its flags checked by name.
import { afterEach, expect, it, vi } from 'vitest';
import { serveCommand } from '../../src/cli/serve.js';
import { modelDir } from '../helpers/models.js';

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

it('serve: prints where it listens, takes the key from WEBMOE_API_KEY, stops on SIGTERM', async () => {
  vi.stubEnv('WEBMOE_API_KEY', 'sk-env');
  const lines: string[] = [];
  const listening = new Promise<string>((resolve) => {
    vi.spyOn(console, 'log').mockImplementation((line: string) => {
      lines.push(line);
      resolve(/(http:\/\/\S+)\/v1 /.exec(line)![1]);
    });
  });
  const running = serveCommand(['--model', modelDir('mixtral'), '--port', '0', '--max-sequences', '2', '--max-queue', '3']);
  const url = await listening;
  expect(lines).toEqual([
    expect.stringMatching(/^webmoe serve: .*mixtral.* at http:\/\/127\.0\.0\.1:\d+\/v1 \(OpenAI API\), http:\/\/127\.0\.0\.1:\d+\/health$/),
  ]);
  expect(await (await fetch(`${url}/health`)).json()).toMatchObject({ status: 'ok', max_in_flight: 5 });
  expect((await fetch(`${url}/v1/models`)).status).toBe(401);
  expect((await fetch(`${url}/v1/models`, { headers: { Authorization: 'Bearer sk-env' } })).status).toBe(200);
  process.emit('SIGTERM');
  await running;
  await expect(fetch(`${url}/health`)).rejects.toThrow();
});

it('serve: flags checked by name', async () => {
  await expect(serveCommand(['--max-sequences', '0'])).rejects.toThrow('--max-sequences must be at least 1, got 0');
  await expect(serveCommand(['--port', 'http'])).rejects.toThrow('--port must be a whole number, got \'http\'');
  await expect(serveCommand(['--max-queue=-1'])).rejects.toThrow('--max-queue must be a whole number, got \'-1\'');
  await expect(serveCommand(['--bogus'])).rejects.toThrow(/Unknown option '--bogus'/);
});
