// The benchmark's JSON, one shape for `webmoe bench` (Node) and the benchmark page (browser), so that
// runs on different devices and runtimes can be compared field by field.
import { benchRatios, type BenchRecord } from './cases.js';
import type { ExpertCacheBench } from './expertCache.js';
import type { ModelBenchRecord } from './model.js';

export interface BenchReport {
  /** "vendor / architecture / description" of the adapter */
  adapter: string;
  date: string;
  dtype: string;
  quick: boolean;
  records: BenchRecord[];
  ratios: Record<string, number>;
  /** a model's generation speed, where the run measured one (the benchmark page: the bundled model) */
  model?: ModelBenchRecord;
  /** `--synthetic granite`: granite-3.1-1b-a400m's shape with random weights (quick: 2 of its 24 layers) */
  synthetic?: ModelBenchRecord;
  /** where the run happened, when known: user agent, adapter limits and features */
  environment?: Record<string, unknown>;
  /** the expert cache's budget curve (the benchmark page: the bundled model, LRU, prefetch off and on) */
  expertCache?: ExpertCacheBench;
}

export function adapterName(info: { vendor?: string; architecture?: string; description?: string } | undefined): string {
  return [info?.vendor, info?.architecture, info?.description].filter(Boolean).join(' / ') || 'unknown adapter';
}

export function benchReport(
  adapter: string,
  o: { dtype: string; quick: boolean },
  records: BenchRecord[],
  extra: Pick<BenchReport, 'model' | 'synthetic' | 'environment' | 'expertCache'> = {},
): BenchReport {
  return { adapter, date: new Date().toISOString(), dtype: o.dtype, quick: o.quick, records, ratios: benchRatios(records), ...extra };
}

/** The GPU a run used, for a report's environment: the adapter's info, its features (sorted) and limits. */
export function gpuEnvironment(gpu: { adapterInfo?: GPUAdapterInfo; info?: GPUAdapterInfo; features: GPUSupportedFeatures; limits: GPUSupportedLimits }): {
  info: Record<string, string | boolean>;
  features: string[];
  limits: Record<string, number>;
} {
  const source = (gpu.info ?? gpu.adapterInfo) as unknown as Record<string, string | boolean | undefined> | undefined;
  const info: Record<string, string | boolean> = {};
  for (const key of ['vendor', 'architecture', 'device', 'description', 'isFallbackAdapter'] as const) {
    const v = source?.[key];
    if (v !== undefined && v !== '') info[key] = v;
  }
  const limits: Record<string, number> = {};
  for (const key in gpu.limits) {
    const v = gpu.limits[key as keyof GPUSupportedLimits];
    if (typeof v === 'number') limits[key] = v;
  }
  return { info, features: [...gpu.features].sort(), limits };
}
