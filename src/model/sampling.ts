// The next token from the logits, as Hugging Face transformers' logits processors pick it: the logit
// bias, the repetition penalty, the frequency and presence penalties (OpenAI's, over the generated
// tokens), a grammar's mask of allowed tokens, then temperature, top-k and top-p, then a draw from a
// seeded generator over the kept tokens in id order; greedy (argmax) when the temperature is 0. The
// GPU sampler (gpuSampling.ts) does the same but the mask in float32 and, for a seed, draws the same numbers.

export interface SamplingOptions {
  /** 0 or undefined: greedy */
  temperature?: number;
  /** keep the k most likely tokens; 0 or undefined: all */
  topK?: number;
  /** keep the smallest set of most likely tokens whose probability reaches p; 1 or undefined: all */
  topP?: number;
  /** CTRL's penalty on tokens seen before: a logit is divided by it when positive, multiplied when negative */
  repetitionPenalty?: number;
  /** same seed, same tokens; undefined: a random seed */
  seed?: number;
  /** OpenAI's: subtracted from a logit once per time the token was generated in this call, in [-2, 2] */
  frequencyPenalty?: number;
  /** OpenAI's: subtracted from the logit of every token generated in this call, in [-2, 2] */
  presencePenalty?: number;
  /** OpenAI's: added to the logits of these token ids before anything else, each in [-100, 100] */
  logitBias?: Record<number, number>;
}

/**
 * The sampling pass sorts only the tokens that can survive top-k/top-p. It first buckets every token
 * by how far its probability lies below the best one's: bucket b holds p/pmax in (e^-(b+1), e^-b],
 * the last bucket everything smaller.
 */
const BUCKETS = 64;

/** Logits with a NaN, or whose largest is ±Inf: an overflow in the model, nothing to sample from. */
export class NonFiniteLogitsError extends RangeError {
  override name = 'NonFiniteLogitsError';
}

function check(ok: boolean, option: string, rule: string, value: unknown): void {
  if (!ok) throw new RangeError(`webmoe: sampling option ${option} must be ${rule}, got ${value}`);
}

/** The options checked, with their defaults: what the CPU and the GPU sampler both run. */
export interface SamplingPlan {
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
  frequencyPenalty: number;
  presencePenalty: number;
  /** [token id, bias] pairs */
  bias: [number, number][];
  /** uniform numbers in [0, 1) from the seed */
  random: () => number;
}

export function samplingPlan(o: SamplingOptions): SamplingPlan {
  const { temperature = 0, topK = 0, topP = 1, repetitionPenalty = 1, frequencyPenalty = 0, presencePenalty = 0, logitBias = {}, seed } = o;
  check(temperature >= 0 && Number.isFinite(temperature), 'temperature', 'a finite number ≥ 0', temperature);
  check(Number.isInteger(topK) && topK >= 0, 'topK', 'an integer ≥ 0', topK);
  check(topP > 0 && topP <= 1, 'topP', 'in (0, 1]', topP);
  check(repetitionPenalty > 0 && Number.isFinite(repetitionPenalty), 'repetitionPenalty', 'a finite number > 0', repetitionPenalty);
  // OpenAI's ranges
  check(Math.abs(frequencyPenalty) <= 2, 'frequencyPenalty', 'in [-2, 2]', frequencyPenalty);
  check(Math.abs(presencePenalty) <= 2, 'presencePenalty', 'in [-2, 2]', presencePenalty);
  check(typeof logitBias === 'object' && logitBias !== null, 'logitBias', 'an object of token id → bias', logitBias);
  const bias = Object.entries(logitBias).map(([id, b]): [number, number] => {
    check(/^(0|[1-9]\d*)$/.test(id), 'logitBias', 'keyed by token ids (integers ≥ 0)', JSON.stringify(id));
    check(typeof b === 'number' && Math.abs(b) <= 100, `logitBias[${id}]`, 'in [-100, 100]', b);
    return [Number(id), b];
  });
  if (seed !== undefined) check(Number.isSafeInteger(seed), 'seed', 'a safe integer', seed);
  const random = generator(seed ?? Math.floor(Math.random() * 2 ** 32));
  return { temperature, topK, topP, repetitionPenalty, frequencyPenalty, presencePenalty, bias, random };
}

/** Refuses a logit bias on a token outside the vocabulary. */
export function checkBias(bias: readonly [number, number][], vocab: number): void {
  for (const [id] of bias) {
    if (id >= vocab) throw new RangeError(`webmoe: sampling option logitBias names token ${id}, outside the vocabulary of ${vocab}`);
  }
}

/** mulberry32 on the seed; two draws make one 53-bit uniform in [0, 1). */
function generator(seed: number): () => number {
  let s = (seed ^ Math.imul(Math.floor(seed / 2 ** 32), 0x9e3779b9)) >>> 0;
  const u32 = () => {
    let t = (s = (s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  return () => ((u32() >>> 5) * 2 ** 26 + (u32() >>> 6)) / 2 ** 53;
}

/** Index of the largest value, ties to the lower index; -1 when a value is NaN. */
function argmax(x: Float64Array): number {
  let best = 0;
  for (let i = 0; i < x.length; i++) {
    if (x[i] > x[best]) best = i;
    else if (Number.isNaN(x[i])) return -1;
  }
  return best;
}

/** The first bucket where the running sum of `x` reaches `target` (the last one if none does). */
function bucketReaching(x: Float64Array, target: number): number {
  let sum = 0;
  for (let b = 0; b < BUCKETS; b++) if ((sum += x[b]) >= target) return b;
  return BUCKETS - 1;
}

export class Sampler {
  private readonly plan: SamplingPlan;
  // Kept between calls: a fresh copy per token would allocate megabytes for a 256k vocabulary.
  private weights = new Float64Array(0);
  private order = new Uint32Array(0);
  /** seen[id] === stamp: the token was met in this pass (a penalty applies once per token) */
  private seen = new Uint32Array(0);
  private stamp = 0;
  private readonly mass = new Float64Array(BUCKETS);
  private readonly count = new Float64Array(BUCKETS);

  constructor(o: SamplingOptions = {}) {
    this.plan = samplingPlan(o);
  }

  /**
   * Picks the next token from `logits` [vocab]; `previous` are the tokens so far (prompt and output),
   * for the repetition penalty; those from `promptLength` on are the generated ones, for the frequency
   * and presence penalties. `allowed`, a bitmask of the tokens a grammar allows (bit i % 32 of word
   * i / 32), leaves the others out.
   */
  next(logits: Float32Array, previous: readonly number[], promptLength = 0, allowed?: Int32Array): number {
    const vocab = logits.length;
    const { temperature, repetitionPenalty, frequencyPenalty, presencePenalty, bias } = this.plan;
    if (vocab === 0) throw new RangeError('webmoe: Sampler.next got no logits');
    if (this.weights.length !== vocab) {
      checkBias(bias, vocab);
      this.weights = new Float64Array(vocab);
      this.order = new Uint32Array(vocab);
      this.seen = new Uint32Array(vocab);
    }
    const w = this.weights;
    w.set(logits);
    for (const [id, b] of bias) w[id] += b;
    const penalties = repetitionPenalty !== 1 || frequencyPenalty !== 0 || presencePenalty !== 0;
    if (penalties) {
      for (const id of previous) {
        if (!(Number.isInteger(id) && id >= 0 && id < vocab)) {
          throw new RangeError(`webmoe: Sampler.next: previous token ${id} is outside the vocabulary of ${vocab}`);
        }
      }
    }
    if (repetitionPenalty !== 1) {
      const stamp = this.nextStamp();
      for (const id of previous) {
        // Once per token, so a token seen twice is penalised once, as in transformers.
        if (this.seen[id] === stamp) continue;
        this.seen[id] = stamp;
        w[id] = w[id] > 0 ? w[id] / repetitionPenalty : w[id] * repetitionPenalty;
      }
    }
    if (frequencyPenalty !== 0 || presencePenalty !== 0) {
      const stamp = this.nextStamp();
      for (let i = promptLength; i < previous.length; i++) {
        const id = previous[i];
        w[id] -= frequencyPenalty;
        if (this.seen[id] !== stamp) w[id] -= presencePenalty;
        this.seen[id] = stamp;
      }
    }
    if (allowed) { for (let i = 0; i < vocab; i++) if (!((allowed[i >>> 5] >>> (i & 31)) & 1)) w[i] = -Infinity; }
    const best = argmax(w);
    if (best < 0) throw new NonFiniteLogitsError('webmoe: the logits contain NaN (the model overflowed): no token to sample');
    if (!Number.isFinite(w[best])) throw new NonFiniteLogitsError(`webmoe: the largest logit is ${w[best]} (the model overflowed): no token to sample`);
    return temperature === 0 ? best : this.sample(w, w[best]);
  }

  private nextStamp(): number {
    if (++this.stamp === 2 ** 32) {
      this.seen.fill(0);
      this.stamp = 1;
    }
    return this.stamp;
  }

  /** Turns the (penalised) logits in `w`, whose largest is `max`, into unnormalised probabilities, filters them and draws. */
  private sample(w: Float64Array, max: number): number {
    const vocab = w.length;
    const { mass, count } = this;
    mass.fill(0);
    count.fill(0);
    let total = 0;
    for (let i = 0; i < vocab; i++) {
      const d = (max - w[i]) / this.plan.temperature;
      const p = Math.exp(-d);
      w[i] = p;
      total += p;
      const b = d < BUCKETS - 1 ? Math.floor(d) : BUCKETS - 1;
      mass[b] += p;
      count[b]++;
    }

    const topK = this.plan.topK < vocab ? this.plan.topK : 0;
    const topP = this.plan.topP;
    // Only the best buckets can hold the top-k tokens (whose mass top-p needs), or without top-k
    // the nucleus: gather just those.
    let last = BUCKETS - 1;
    if (topK > 0) last = bucketReaching(count, topK);
    else if (topP < 1) last = bucketReaching(mass, topP * total);
    const floor = last === BUCKETS - 1 ? 0 : Math.exp(-(last + 1));
    let n = 0;
    for (let i = 0; i < vocab; i++) if (w[i] >= floor) this.order[n++] = i;
    const kept = this.order.subarray(0, n);
    let sum = total;
    if (topK > 0 || topP < 1) {
      kept.sort((a, b) => w[b] - w[a] || a - b);
      if (topK > 0) {
        // As transformers: every token tied with the k-th one stays.
        const kth = w[kept[topK - 1]];
        n = topK;
        while (n < kept.length && w[kept[n]] === kth) n++;
        sum = 0;
        for (let j = 0; j < n; j++) sum += w[kept[j]];
      }
      if (topP < 1) {
        const target = topP * sum;
        let m = 0;
        sum = 0;
        while (m < n && sum < target) sum += w[kept[m++]];
        n = m;
      }
      // The draw walks the kept tokens in id order, as the GPU sampler does: one seed, one token.
      kept.subarray(0, n).sort();
    }

    let r = this.plan.random() * sum;
    let pick = kept[0];
    for (let j = 0; j < n; j++) {
      const id = kept[j];
      if (w[id] === 0) continue;
      pick = id;
      if ((r -= w[id]) < 0) break;
    }
    return pick;
  }
}
