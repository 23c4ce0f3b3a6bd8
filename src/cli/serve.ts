// `webmoe serve`: the model (the model commands' flags) behind the OpenAI-compatible HTTP server of
// src/serve/, until SIGINT or SIGTERM (the server closed, the engine disposed). docs/serve.md.
import { parseArgs } from 'node:util';
import type { Engine } from '../api/engine.js';
import { serve, type ServeOptions } from '../serve/server.js';
import { intArg, UsageError } from './args.js';
import { cacheArgs, loadEngine, modelOptions, parallelArgs } from './model.js';
import { type RoutingFlags, useRoutingArgs } from './routing.js';

/** The flags of the served engine (the model commands' and --max-sequences), shared with serve-bench. */
export const servedEngineOptions = { ...modelOptions, 'max-sequences': { type: 'string', default: '4' } } as const;

type ServedFlags = { model?: string; dtype?: string; 'max-sequences'?: string } & Parameters<typeof parallelArgs>[0] & Parameters<typeof cacheArgs>[0]
  & RoutingFlags;

/** The engine the flags ask for, loaded with their maxSequences. */
export async function servedEngine(v: ServedFlags): Promise<Engine> {
  const maxSequences = intArg(v['max-sequences'], 'max-sequences');
  if (maxSequences < 1) throw new UsageError(`--max-sequences must be at least 1, got ${maxSequences}`);
  const engine = await loadEngine(v.model, v.dtype, { ...parallelArgs(v), ...cacheArgs(v), maxSequences });
  useRoutingArgs(engine, v);
  return engine;
}

export async function serveCommand(args: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args,
    strict: true,
    options: {
      ...servedEngineOptions,
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '8080' },
      'api-key': { type: 'string' },
      'max-queue': { type: 'string', default: '16' },
    },
  });
  const options: ServeOptions = {
    host: v.host,
    port: intArg(v.port, 'port'),
    apiKey: v['api-key'] ?? process.env.WEBMOE_API_KEY,
    maxQueue: intArg(v['max-queue'], 'max-queue'),
  };
  const engine = await servedEngine(v);
  try {
    const server = await serve(engine, options); // its 429 bound counts the engine's maxSequences
    if (!options.apiKey && !['127.0.0.1', 'localhost', '::1'].includes(v.host!)) {
      console.error(`webmoe serve: listening on ${v.host} with no API key: anyone who reaches it can use it (--api-key or WEBMOE_API_KEY)`);
    }
    console.log(`webmoe serve: ${engine.model} at ${server.url}/v1 (OpenAI API), ${server.url}/health`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    await server.close();
  } finally {
    engine.dispose();
  }
}
