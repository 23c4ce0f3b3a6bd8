// The prefetch's guess of a layer's experts before it runs: its router applied on the host to the
// layer's input rows as its input norm leaves them, before its attention (the pre-gating of the
// offloading literature, from the latest point that still leaves the attention to overlap the
// uploads). The rows the layer routes differ by the attention and another norm, so the guess is a
// guess: its precision and recall are measured (stats.ts). Grouped top-k is not applied (a superset
// of the experts it keeps).
import type { ExpertSource } from '../backend.js';

/** The experts the top `count` of each row of x [T, H] picks under `s`'s router, all rows together, best first for one row. */
export function predictExperts(s: ExpertSource, x: Float32Array, tokens: number, hidden: number, experts: number, count: number,
  sigmoid: boolean): Set<number>
{
  const picked = new Set<number>();
  const score = new Float64Array(experts);
  for (let t = 0; t < tokens; t++) {
    const row = x.subarray(t * hidden, (t + 1) * hidden);
    for (let e = 0; e < experts; e++) {
      let v = s.routerBias?.[e] ?? 0;
      const w = s.router.subarray(e * hidden, (e + 1) * hidden);
      for (let i = 0; i < hidden; i++) v += w[i] * row[i];
      // softmax keeps the logits' order; a sigmoid router chooses by score + selection bias
      score[e] = sigmoid ? 1 / (1 + Math.exp(-v)) + (s.selectionBias?.[e] ?? 0) : v;
    }
    const order = Array.from({ length: experts }, (_, e) => e).sort((a, b) => score[b] - score[a] || a - b);
    for (const e of order.slice(0, count)) picked.add(e);
  }
  return picked;
}
