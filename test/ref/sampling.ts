// Float64 references for the samplers: the distribution they draw from, and a χ² check of counts.

export interface OpenAIPenalties {
  /** added to the logits first */
  bias?: Record<number, number>;
  /** the generated tokens, for the frequency and presence penalties */
  generated?: number[];
  frequency?: number;
  presence?: number;
}

/**
 * Softmax after the logit bias, CTRL's repetition penalty (once per distinct token), the frequency
 * and presence penalties over the generated tokens, and the temperature, in float64.
 */
export function reference(logits: Float32Array, previous: number[], temperature: number, penalty = 1, o: OpenAIPenalties = {}): number[] {
  const x = Array.from(logits);
  for (const [id, b] of Object.entries(o.bias ?? {})) x[Number(id)] += b;
  for (const id of new Set(previous)) x[id] = x[id] > 0 ? x[id] / penalty : x[id] * penalty;
  const generated = o.generated ?? [];
  for (const id of generated) x[id] -= o.frequency ?? 0;
  for (const id of new Set(generated)) x[id] -= o.presence ?? 0;
  const max = x.reduce((a, b) => Math.max(a, b), -Infinity);
  const e = x.map((v) => Math.exp((v - max) / temperature));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}

/** Pearson's χ² of the counts against the probabilities; Infinity when an impossible token was drawn. */
export function chiSquare(c: number[], probs: number[]): number {
  const n = c.reduce((a, b) => a + b, 0);
  let chi = 0;
  for (let i = 0; i < c.length; i++) {
    const expected = probs[i] * n;
    if (expected === 0) {
      if (c[i] > 0) return Infinity;
      continue;
    }
    chi += (c[i] - expected) ** 2 / expected;
  }
  return chi;
}

/** Far in the tail of χ² with `dof` degrees of freedom (p < 1e-6 for the sizes used here). */
export const bound = (dof: number) => dof + 7 * Math.sqrt(2 * dof) + 10;
