// What an error becomes on the wire: an HTTP status and OpenAI's error body, { error: { message,
// type, param, code } }, so that OpenAI clients raise their own named errors (BadRequestError, …).
import { ContextOverflowError, DeviceLostError, EngineDisposedError, EngineOptionError } from '../api/engine.js';
import { GrammarError } from '../model/grammar.js';

export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** An error the server answers with `status` (the request's own: bad JSON, auth, route, size, queue, model). */
export class HttpError extends Error {
  override name = 'HttpError';

  constructor(
    readonly status: number,
    message: string,
    readonly type = 'invalid_request_error',
    readonly code: string | null = null,
    readonly param: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** The status, headers and body of `e`; an error the server does not know is a 500 with its message. */
export function errorResponse(e: unknown): { status: number; headers: Record<string, string>; body: ErrorBody } {
  const body = (message: string, type: string, param: string | null = null, code: string | null = null): ErrorBody => ({
    error: { message, type, param, code },
  });
  if (e instanceof HttpError) return { status: e.status, headers: e.headers, body: body(e.message, e.type, e.param, e.code) };
  if (e instanceof ContextOverflowError) return { status: 400, headers: {}, body: body(e.message, 'invalid_request_error', null, 'context_length_exceeded') };
  if (e instanceof EngineOptionError) return { status: 400, headers: {}, body: body(e.message, 'invalid_request_error', e.option) };
  if (e instanceof GrammarError) return { status: 400, headers: {}, body: body(e.message, 'invalid_request_error', 'response_format') };
  if (e instanceof EngineDisposedError || e instanceof DeviceLostError) {
    return { status: 503, headers: {}, body: body(e.message, 'server_error', null, 'engine_unavailable') };
  }
  // The engine's other refusals of a request (a prompt of no tokens) are RangeErrors named 'webmoe: …'.
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof RangeError && message.startsWith('webmoe: ')) return { status: 400, headers: {}, body: body(message, 'invalid_request_error') };
  return { status: 500, headers: {}, body: body(message, 'server_error') };
}
