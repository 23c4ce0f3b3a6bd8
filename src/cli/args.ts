import { WEIGHT_DTYPES, type WeightDType } from '../weights/format.js';
// Flag values of the CLI, checked with messages that name the flag, and the line the CLI prints for an error.

/** A flag's value the CLI cannot use. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function intArg(v: string | undefined, name: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a whole number, got '${v}'`);
  return n;
}

/** Comma-separated token ids (`1,2,3`): each item digits only, so `1,,3`, ` 2`, `-1`, `1.5` or `0x10` are refused. */
export function tokensArg(v: string, name: string): number[] {
  return v.split(',').map((t, i) => {
    const n = Number(t);
    if (!/^\d+$/.test(t) || !Number.isSafeInteger(n)) {
      throw new UsageError(`--${name} must be comma-separated token ids (whole numbers), got ${t ? `'${t}'` : 'an empty item'} at item ${i + 1} of '${v}'`);
    }
    return n;
  });
}

/** Comma-separated counts (`1,2,4,8`: streams, requests in flight): each item digits only, at least 1. */
export function levelsArg(v: string, name: string): number[] {
  return v.split(',').map((item) => {
    const n = Number(item);
    if (!/^\d+$/.test(item) || n < 1) throw new UsageError(`--${name} must be comma-separated whole numbers ≥ 1, got '${item}' in '${v}'`);
    return n;
  });
}

/** An optional number flag: undefined when not given. */
export function numberArg(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got '${v}'`);
  return n;
}

export function dtypeArg(v: string | undefined): WeightDType {
  if (!WEIGHT_DTYPES.includes(v as WeightDType)) throw new UsageError(`--dtype must be ${WEIGHT_DTYPES.join(', ')}, got '${v}'`);
  return v as WeightDType;
}

/** The one line the CLI prints for an error: its message, prefixed `webmoe: ` once (most already are). */
export function errorLine(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.startsWith('webmoe: ') ? message : `webmoe: ${message}`;
}
