// The routing flags of the model commands (docs/routing.md): --top-k-experts K, --expert-top-p P,
// --expert-min-k K, --capacity-factor C, --capacity-mode drop|next, --disable-experts LAYER:E,E,…
import type { Engine, RoutingOptions } from '../api/engine.js';
import { intArg, numberArg, UsageError } from './args.js';

export const routingOptions = {
  'top-k-experts': { type: 'string' },
  'expert-top-p': { type: 'string' },
  'expert-min-k': { type: 'string' },
  'capacity-factor': { type: 'string' },
  'capacity-mode': { type: 'string' },
  'disable-experts': { type: 'string', multiple: true },
} as const;

export interface RoutingFlags {
  'top-k-experts'?: string;
  'expert-top-p'?: string;
  'expert-min-k'?: string;
  'capacity-factor'?: string;
  'capacity-mode'?: string;
  'disable-experts'?: string[];
}

/** The routing of the flags for a model of `experts` experts (the engine checks the ranges, naming routing.topK and so on). */
export function routingArgs(v: RoutingFlags, experts: number): RoutingOptions {
  const mode = v['capacity-mode'];
  if (mode !== undefined && mode !== 'drop' && mode !== 'next') throw new UsageError(`--capacity-mode must be drop or next, got '${mode}'`);
  const expertMask: Record<number, number[]> = {};
  for (const item of v['disable-experts'] ?? []) {
    const m = /^(\d+):(\d+(?:,\d+)*)$/.exec(item);
    if (!m) throw new UsageError(`--disable-experts must be LAYER:E,E,… (whole numbers), got '${item}'`);
    const mask = (expertMask[Number(m[1])] ??= new Array<number>(experts).fill(1));
    for (const e of m[2].split(',').map(Number)) {
      if (e >= experts) throw new UsageError(`--disable-experts: expert ${e} is not one of the model's ${experts} (0…${experts - 1})`);
      mask[e] = 0;
    }
  }
  return {
    topK: v['top-k-experts'] === undefined ? undefined : intArg(v['top-k-experts'], 'top-k-experts'),
    topP: numberArg(v['expert-top-p'], 'expert-top-p'),
    minK: v['expert-min-k'] === undefined ? undefined : intArg(v['expert-min-k'], 'expert-min-k'),
    capacityFactor: numberArg(v['capacity-factor'], 'capacity-factor'),
    capacityMode: mode,
    expertMask: Object.keys(expertMask).length ? expertMask : undefined,
  };
}

/** Sets the flags' routing as the engine's defaults. */
export function useRoutingArgs(engine: Engine, v: RoutingFlags): void {
  engine.setRouting(routingArgs(v, engine.config.experts));
}
