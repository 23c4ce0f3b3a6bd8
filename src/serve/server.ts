// `webmoe serve`: an OpenAI-compatible HTTP server on one engine, on node:http (five routes; SSE is a
// few lines). Requests in flight are bounded (maxSequences decoding, maxQueue waiting: more get 429 at
// once); a client that disconnects aborts its generation; an API key, when set, is checked in constant
// time. Bound to 127.0.0.1 unless told otherwise.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Engine } from '../api/engine.js';
import { EngineOptionError } from '../api/errors.js';
import type { ChatCompletionRequest } from '../api/request.js';
import { type CompletionRequest, gatherCompletion, textCompletion } from './completions.js';
import { errorResponse, HttpError } from './errors.js';

/** What the server needs of an engine (the in-thread Engine has it all). */
export type ServeEngine = Pick<Engine, 'chat' | 'generate' | 'model' | 'disposed' | 'contextLength'> & Partial<Pick<Engine, 'maxSequences'>>;

export interface ServeOptions {
  /** Default '127.0.0.1' (this machine only). */
  host?: string;
  /** Default 8080; 0: a free port (see `url`). */
  port?: number;
  /** When set, /v1/ routes need `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Sequences the engine decodes together (its load option `maxSequences`); default the engine's own, else 1. */
  maxSequences?: number;
  /** Requests that may wait beyond those; one more gets 429. Default 16. */
  maxQueue?: number;
  /** The largest request body; a larger one gets 413. Default 1 MiB. */
  maxBodyBytes?: number;
}

export interface RunningServer {
  /** http://host:port, the port the server got */
  url: string;
  /** Stops accepting, aborts the generations in flight, and resolves once every connection has closed. */
  close(): Promise<void>;
}

const shuttingDown = () => new HttpError(503, 'webmoe: the server is shutting down', 'server_error', 'engine_unavailable');

const SSE_HEADERS = { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' };

/** Starts the server; resolves once it listens. */
export async function serve(engine: ServeEngine, options: ServeOptions = {}): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const capacity = (options.maxSequences ?? engine.maxSequences ?? 1) + (options.maxQueue ?? 16);
  const maxBody = options.maxBodyBytes ?? 2 ** 20;
  // Hashed, so that the constant-time compare gets equal lengths whatever the token's.
  const key = options.apiKey === undefined ? undefined : digest(options.apiKey);
  /** The generations in flight (running or waiting for the engine), by their abort controllers. */
  const inFlight = new Set<AbortController>();
  let closing = false;

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const where = `${req.method} ${path}`;
    if (where === 'GET /health') {
      const up = !engine.disposed && !closing;
      return json(res, up ? 200 : 503, { status: up ? 'ok' : 'unavailable', model: engine.model, context_length: engine.contextLength, in_flight: inFlight.size,
        max_in_flight: capacity });
    }
    if (path.startsWith('/v1/') && key && !authorized(req.headers.authorization, key)) {
      throw new HttpError(401, 'webmoe: incorrect or missing API key: send Authorization: Bearer <key>', 'invalid_request_error', 'invalid_api_key');
    }
    if (where === 'GET /v1/models') {
      return json(res, 200, { object: 'list', data: [{ id: engine.model, object: 'model', created: 0, owned_by: 'webmoe' }] });
    }
    if (where !== 'POST /v1/chat/completions' && where !== 'POST /v1/completions') {
      throw new HttpError(404, `webmoe: invalid URL (${where}): this server has POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health`,
        'invalid_request_error', 'unknown_url');
    }
    if (closing) throw shuttingDown();
    if (inFlight.size >= capacity) {
      throw new HttpError(429, `webmoe: ${inFlight.size} requests are in flight, the most this server takes: retry later`, 'rate_limit_exceeded',
        'rate_limit_exceeded', null, { 'Retry-After': '1' });
    }
    const abort = new AbortController();
    inFlight.add(abort);
    // 'close' before the response ended: the client went away (or the server closes); its generation stops.
    res.once('close', () => abort.abort(new Error('webmoe: the client disconnected')));
    try {
      const body = await readJson(req, maxBody);
      checkModel(body, engine.model);
      const chat = path === '/v1/chat/completions';
      if (body.stream === true) {
        const chunks = chat
          ? await engine.chat.completions.create({ ...body, stream: true, signal: abort.signal } as ChatCompletionRequest & { stream: true })
          : textCompletion(engine, body as unknown as CompletionRequest, abort.signal);
        return await stream(res, chunks[Symbol.asyncIterator](), abort.signal);
      }
      const reply = chat
        ? await engine.chat.completions.create({ ...body, stream: false, signal: abort.signal } as ChatCompletionRequest & { stream: false })
        : await gatherCompletion(engine, body as unknown as CompletionRequest, abort.signal);
      return json(res, 200, reply);
    } finally {
      inFlight.delete(abort);
    }
  };

  /** Every request being handled, so that close() can wait for them to answer. */
  const handling = new Set<Promise<void>>();
  const server = createServer((req, res) => {
    const handled = route(req, res).catch((e: unknown) => {
      if (res.destroyed) return; // the client is gone: no one to tell
      const { status, headers, body } = errorResponse(closing && !(e instanceof HttpError) ? shuttingDown() : e);
      if (res.headersSent) {
        // An error mid-stream: an SSE error event, then the end (OpenAI clients raise it).
        res.end(`data: ${JSON.stringify(body)}\n\n`);
      } else {
        json(res, status, body, headers);
      }
      req.resume(); // a body not read (413, 401, 429): drained, so the connection can end cleanly
    });
    handling.add(handled);
    void handled.finally(() => handling.delete(handled));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: async () => {
      closing = true;
      const closed = new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
      for (const a of inFlight) a.abort(new Error('webmoe: the server is shutting down'));
      await Promise.all(handling);
      server.closeAllConnections(); // every answer is out: the kept-alive connections go too
      await closed;
    },
  };
}

/** Streams `chunks` as server-sent events, `data: {chunk}` each, then `data: [DONE]`. */
async function stream(res: ServerResponse, chunks: AsyncIterator<object>, signal: AbortSignal): Promise<void> {
  try {
    // The first chunk before the headers: an error before any output (a bad field, a prompt too long) gets its status.
    let next = await chunks.next();
    res.writeHead(200, SSE_HEADERS);
    while (!next.done) {
      res.write(`data: ${JSON.stringify(next.value)}\n\n`);
      signal.throwIfAborted();
      next = await chunks.next();
    }
    res.end('data: [DONE]\n\n');
  } finally {
    await chunks.return?.(undefined); // leaving early (a disconnect) ends the generation and frees the engine
  }
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** The request's body as a JSON object: 413 past `max` bytes, 400 if it is not one. */
async function readJson(req: IncomingMessage, max: number): Promise<Record<string, unknown>> {
  // The connection closes after a 413: the rest of the body is not waited for.
  const tooLarge = () =>
    new HttpError(413, `webmoe: the request body is over ${max} bytes`, 'invalid_request_error', 'request_too_large', null, { Connection: 'close' });
  if (Number(req.headers['content-length'] ?? 0) > max) throw tooLarge();
  // Events, not for-await: leaving a for-await early would destroy the socket before the 413 is sent.
  const text = await new Promise<string>((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const take = (part: Buffer) => {
      size += part.length;
      if (size <= max) return void parts.push(part);
      req.off('data', take);
      reject(tooLarge());
    };
    req.on('data', take);
    req.once('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.once('error', reject);
  });
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, `webmoe: the request body is not JSON: ${(e as Error).message}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'webmoe: the request body must be a JSON object');
  // An AbortSignal is the library's, not the wire's: the server gives each request its own.
  if ('signal' in body) throw new EngineOptionError('signal', 'is not a field of an HTTP request');
  const stream = (body as { stream?: unknown }).stream;
  if (stream !== undefined && stream !== null && typeof stream !== 'boolean') {
    throw new EngineOptionError('stream', `must be a boolean, got ${JSON.stringify(stream)}`);
  }
  return body as Record<string, unknown>;
}

/** OpenAI clients always send a model: the loaded one's name is taken, another refused by name. */
function checkModel(body: Record<string, unknown>, model: string): void {
  if (body.model !== undefined && body.model !== null && body.model !== model) {
    throw new HttpError(404, `webmoe: the model ${JSON.stringify(body.model)} does not exist here: this server runs ${JSON.stringify(model)}`,
      'invalid_request_error', 'model_not_found', 'model');
  }
}

const digest = (s: string) => createHash('sha256').update(s).digest();

function authorized(header: string | undefined, key: Buffer): boolean {
  const token = /^Bearer (.+)$/i.exec(header ?? '')?.[1];
  return token !== undefined && timingSafeEqual(digest(token), key);
}
