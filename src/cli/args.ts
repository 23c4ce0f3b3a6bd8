import { WEIGHT_DTYPES, type WeightDType } from '../weights/format.js';
// Flag values of the CLI, checked with messages that name the flag.

export function intArg(v: string | undefined, name: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number, got '${v}'`);
  return n;
}

/** An optional number flag: undefined when not given. */
export function numberArg(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got '${v}'`);
  return n;
}

export function dtypeArg(v: string | undefined): WeightDType {
  if (!WEIGHT_DTYPES.includes(v as WeightDType)) throw new Error(`--dtype must be ${WEIGHT_DTYPES.join(', ')}, got '${v}'`);
  return v as WeightDType;
}
