// What the expert cache did: its counters (summed since load, or over one call) and the experts each
// MoE layer has on the GPU now.

/** Counters, summed since the model loaded. */
export interface ExpertCacheCounts {
  /** a MoE layer call's distinct experts found on the GPU (a prefetched one counts as a hit) */
  hits: number;
  /** … and not found there */
  misses: number;
  /** misses whose bytes the host tier held */
  hostHits: number;
  /** misses read from the model source again */
  sourceReads: number;
  /** bytes written into GPU slots (prefetches included) */
  bytesUploaded: number;
  /** tokens through the model (a forward's tokens, counted at its first MoE layer) */
  tokens: number;
  /** experts the prefetch predicted, those of them the layer then used, and all the experts those layer calls used */
  predicted: number;
  predictedUsed: number;
  predictable: number;
}

export interface ExpertCacheStats extends ExpertCacheCounts {
  /** GPU expert slots (the budget, in experts) and the bytes of one expert */
  slots: number;
  expertBytes: number;
  /** hits / (hits + misses); 0 when nothing ran */
  hitRate: number;
  /** bytesUploaded / tokens */
  bytesPerToken: number;
  /** predictedUsed / predicted and predictedUsed / predictable */
  prefetch: { precision: number; recall: number };
  /** per MoE layer, the experts on the GPU now (ascending) */
  resident: { layer: number; experts: number[] }[];
}

export const noCounts = (): ExpertCacheCounts => ({
  hits: 0,
  misses: 0,
  hostHits: 0,
  sourceReads: 0,
  bytesUploaded: 0,
  tokens: 0,
  predicted: 0,
  predictedUsed: 0,
  predictable: 0,
});

const ratio = (a: number, b: number) => (b ? a / b : 0);

/** The stats of `now` less `since` (a call's), with the slots and residents of now. */
export function cacheStats(now: ExpertCacheCounts, since: ExpertCacheCounts,
  fixed: Pick<ExpertCacheStats, 'slots' | 'expertBytes' | 'resident'>): ExpertCacheStats
{
  const c = Object.fromEntries(Object.entries(now).map(([k, v]) => [k, v - since[k as keyof ExpertCacheCounts]])) as unknown as ExpertCacheCounts;
  return {
    ...fixed,
    ...c,
    hitRate: ratio(c.hits, c.hits + c.misses),
    bytesPerToken: ratio(c.bytesUploaded, c.tokens),
    prefetch: { precision: ratio(c.predictedUsed, c.predicted), recall: ratio(c.predictedUsed, c.predictable) },
  };
}
