// webmoe perplexity: the mean next-token loss of a text file under a model, by generation's prefill
// path. The text is cut into windows of --window tokens; each window is read after the BOS (as
// generation starts, and as scripts/model/train.py evaluates) and every one of its tokens is scored.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { intArg } from './args.js';
import { cacheArgs, loadEngine, modelOptions, parallelArgs } from './model.js';

/** −log softmax(row)[target], in float64. */
function tokenLoss(row: Float32Array, target: number): number {
  let max = -Infinity;
  for (const v of row) max = Math.max(max, v);
  let sum = 0;
  for (const v of row) sum += Math.exp(v - max);
  return Math.log(sum) + max - row[target];
}

export async function perplexity(args: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args,
    strict: true,
    options: { ...modelOptions, text: { type: 'string' }, window: { type: 'string', default: '256' }, windows: { type: 'string' } },
  });
  if (!v.text) throw new Error('--text FILE is required');
  const window = intArg(v.window, 'window');
  const engine = await loadEngine(v.model, v.dtype, { ...parallelArgs(v), ...cacheArgs(v) });
  try {
    if (window < 2 || window > engine.contextLength) throw new Error(`--window must be in 2…${engine.contextLength} (the context), got ${window}`);
    const tok = engine.tokenizer;
    if (!tok) throw new Error(`${engine.model}: no tokenizer.json, so there is no text to score`);
    const ids = tok.encode(readFileSync(v.text, 'utf8'), { addSpecialTokens: false });
    const bos = tok.bosId;
    const starts: number[] = [];
    for (let o = 0; o + window < ids.length; o += window) starts.push(o);
    const count = Math.min(starts.length, v.windows === undefined ? Infinity : intArg(v.windows, 'windows'));
    if (count === 0) throw new Error(`${v.text}: ${ids.length} tokens, fewer than one window of ${window} + 1`);
    let total = 0;
    let scored = 0;
    for (const o of starts.slice(0, count)) {
      const target = ids.slice(o, o + window);
      // With a BOS every token of the window is scored; without one, all but the first.
      const shift = bos === undefined ? 1 : 0;
      const rows = await engine.logits(bos === undefined ? target : [bos, ...target.slice(0, -1)]);
      for (let t = 0; t + shift < window; t++) total += tokenLoss(rows[t], target[t + shift]);
      scored += window - shift;
    }
    const loss = total / scored;
    console.log(JSON.stringify({ text: v.text, dtype: v.dtype, window, windows: count, tokens: scored, loss, perplexity: Math.exp(loss) }));
  } finally {
    engine.dispose();
  }
}
