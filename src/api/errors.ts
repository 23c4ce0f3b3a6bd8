// The engine's own errors: a call on a disposed engine or one whose device was lost, and a call or load option out of its range
// (named as the caller spelled it: `maxTokens`, or `max_tokens` through the OpenAI surface).

export class EngineDisposedError extends Error {
  override name = 'EngineDisposedError';

  constructor(what = 'the engine') {
    super(`webmoe: ${what} was disposed: load the model again`);
  }
}

/** The engine's GPU device was lost (a driver reset, the GPU process ending) or destroyed: its GPU memory is gone. */
export class DeviceLostError extends Error {
  override name = 'DeviceLostError';

  constructor(readonly reason: GPUDeviceLostReason, detail: string) {
    super(`webmoe: the GPU device was ${reason === 'destroyed' ? 'destroyed' : 'lost'}${detail ? ` (${detail})` : ''}: load the model again on a new device`);
  }
}

export class EngineOptionError extends RangeError {
  override name = 'EngineOptionError';

  constructor(readonly option: string, message: string) {
    super(`webmoe: ${option} ${message}`);
  }
}

/** `value`, unless it is not a positive integer. */
export function positiveInteger(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new EngineOptionError(option, `must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/** Stop strings: one string or a list of them, none empty. */
export function stopStrings(option: string, value: unknown): string[] {
  const stops = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(stops) || !stops.every((s) => typeof s === 'string' && s !== '')) {
    throw new EngineOptionError(option, `must be a non-empty string or a list of them, got ${JSON.stringify(value) ?? String(value)}`);
  }
  return stops as string[];
}
