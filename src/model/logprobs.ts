// Log-probabilities of a step's tokens under the model: log-softmax of the raw logits row (before
// penalties, temperature or a grammar's mask), as OpenAI's `logprobs` reports them.

export interface TokenLogprob {
  token: number;
  logprob: number;
}

/** The log-probability of `token` in `logits` [vocab], and the `top` most likely tokens (best first, ties to the lower id). */
export function logprobs(logits: Float32Array, token: number, top: number): TokenLogprob & { top: TokenLogprob[] } {
  let max = -Infinity;
  for (const x of logits) if (x > max) max = x;
  let sum = 0;
  for (const x of logits) sum += Math.exp(x - max);
  const logZ = max + Math.log(sum);
  // One pass keeping the best `top` sorted (top is small: OpenAI allows 20).
  const best: number[] = [];
  const n = Math.min(top, logits.length);
  for (let i = 0; i < logits.length; i++) {
    if (best.length === n && !(logits[i] > logits[best[n - 1]])) continue;
    let j = best.length;
    while (j > 0 && logits[i] > logits[best[j - 1]]) j--;
    best.splice(j, 0, i);
    if (best.length > n) best.pop();
  }
  return { token, logprob: logits[token] - logZ, top: best.map((t) => ({ token: t, logprob: logits[t] - logZ })) };
}
