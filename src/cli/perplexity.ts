// webmoe perplexity: the mean next-token loss of a text file under a model, by generation's prefill
// path. The text is cut into windows of --window tokens; each window is read after the BOS (as
// generation starts, and as scripts/model/train.py evaluates) and every one of its tokens is scored.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Engine, RoutingOptions } from '../api/engine.js';
import { intArg } from './args.js';
import { cacheArgs, loadEngine, modelOptions, parallelArgs } from './model.js';
import { useRoutingArgs } from './routing.js';

/** −log softmax(row)[target], in float64. */
function tokenLoss(row: Float32Array, target: number): number {
  let max = -Infinity;
  for (const v of row) max = Math.max(max, v);
  let sum = 0;
  for (const v of row) sum += Math.exp(v - max);
  return Math.log(sum) + max - row[target];
}

/** The text's windows: each its targets and the tokens the model reads for them (after the BOS). */
export function textWindows(engine: Engine, file: string, window: number, windows?: number): { read: number[]; targets: number[] }[] {
  if (window < 2 || window > engine.contextLength) throw new Error(`--window must be in 2…${engine.contextLength} (the context), got ${window}`);
  const tok = engine.tokenizer;
  if (!tok) throw new Error(`${engine.model}: no tokenizer.json, so there is no text to score`);
  const ids = tok.encode(readFileSync(file, 'utf8'), { addSpecialTokens: false });
  const bos = tok.bosId;
  const out: { read: number[]; targets: number[] }[] = [];
  for (let o = 0; o + window < ids.length && out.length < (windows ?? Infinity); o += window) {
    const target = ids.slice(o, o + window);
    // With a BOS every token of the window is scored; without one, all but the first.
    out.push(bos === undefined ? { read: target, targets: target.slice(1) } : { read: [bos, ...target.slice(0, -1)], targets: target });
  }
  if (out.length === 0) throw new Error(`${file}: ${ids.length} tokens, fewer than one window of ${window} + 1`);
  return out;
}

/** Mean next-token loss over the windows (routing: the calls' routing controls). */
export async function windowsLoss(engine: Engine, windows: { read: number[]; targets: number[] }[],
  routing?: RoutingOptions): Promise<{ loss: number; tokens: number }>
{
  let total = 0;
  let scored = 0;
  for (const w of windows) {
    const rows = await engine.logits(w.read, { routing });
    const shift = w.read.length - w.targets.length;
    w.targets.forEach((target, t) => (total += tokenLoss(rows[t + shift], target)));
    scored += w.targets.length;
  }
  return { loss: total / scored, tokens: scored };
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
    useRoutingArgs(engine, v);
    const windows = textWindows(engine, v.text, window, v.windows === undefined ? undefined : intArg(v.windows, 'windows'));
    const { loss, tokens } = await windowsLoss(engine, windows);
    console.log(JSON.stringify({ text: v.text, dtype: v.dtype, window, windows: windows.length, tokens, loss, perplexity: Math.exp(loss) }));
  } finally {
    engine.dispose();
  }
}
