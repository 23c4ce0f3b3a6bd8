// The CLI's model commands: generate (streams text, then stats), logits (JSON of every position)
// and inspect (tensors and config of a file or model folder, or the named error).
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import type { Engine, LoadModelOptions } from '../api/engine.js';
import { dtypeArg, intArg, numberArg, tokensArg } from './args.js';
import { openCheckpoint } from '../io/checkpoint.js';
import { nodeDirSource, nodeFile, nodeModelSource } from '../io/nodeSource.js';
import { readSafetensorsHeader, type TensorInfo } from '../io/safetensors.js';
import type { ModelSource } from '../io/source.js';
import { readConfig } from '../model/families/registry.js';
import { bundledModelDir, loadModel } from '../node.js';
import type { ExpertParallelOptions } from '../moe/sharded/coordinator.js';
import type { ExpertCacheOptions } from '../moe/cached/experts.js';
import type { ExpertCachePolicy } from '../moe/cached/policy.js';
import { routingOptions, useRoutingArgs } from './routing.js';

export const modelOptions = {
  model: { type: 'string' },
  dtype: { type: 'string', default: 'f32' },
  workers: { type: 'string' },
  'gpu-expert-budget': { type: 'string' },
  'cpu-workers': { type: 'string' },
  'expert-cache': { type: 'string' },
  'host-cache': { type: 'string' },
  'expert-cache-policy': { type: 'string' },
  prefetch: { type: 'boolean' },
  'prefetch-top-k': { type: 'string' },
  'cache-aware-margin': { type: 'string' },
  ...routingOptions,
} as const;

/** The expert-parallel flags: --workers N [--gpu-expert-budget MB] [--cpu-workers N]. */
export function parallelArgs(v: { workers?: string; 'gpu-expert-budget'?: string; 'cpu-workers'?: string }): Partial<ExpertParallelOptions> {
  const budget = numberArg(v['gpu-expert-budget'], 'gpu-expert-budget');
  if (v.workers === undefined) {
    if (budget !== undefined || v['cpu-workers'] !== undefined) throw new Error('--gpu-expert-budget and --cpu-workers need --workers N');
    return {};
  }
  return {
    workers: intArg(v.workers, 'workers'),
    gpuExpertBudgetBytes: budget === undefined ? undefined : budget * 2 ** 20,
    cpuWorkers: v['cpu-workers'] === undefined ? undefined : intArg(v['cpu-workers'], 'cpu-workers'),
  };
}

/**
 * The expert-cache flags: --expert-cache MB [--host-cache MB] [--expert-cache-policy lru|lfu]
 * [--prefetch [--prefetch-top-k N]] [--cache-aware-margin M].
 */
export function cacheArgs(
  v: {
    'expert-cache'?: string;
    'host-cache'?: string;
    'expert-cache-policy'?: string;
    prefetch?: boolean;
    'prefetch-top-k'?: string;
    'cache-aware-margin'?: string;
  },
): Partial<ExpertCacheOptions> {
  const mb = (name: 'expert-cache' | 'host-cache') => {
    const n = numberArg(v[name], name);
    return n === undefined ? undefined : n * 2 ** 20;
  };
  const expertCacheBytes = mb('expert-cache');
  if (expertCacheBytes === undefined) {
    if (
      v['host-cache'] !== undefined || v['expert-cache-policy'] !== undefined || v.prefetch || v['prefetch-top-k'] !== undefined
      || v['cache-aware-margin'] !== undefined
    ) {
      throw new Error('--host-cache, --expert-cache-policy, --prefetch, --prefetch-top-k and --cache-aware-margin need --expert-cache MB');
    }
    return {};
  }
  return { expertCacheBytes, hostCacheBytes: mb('host-cache'), expertCachePolicy: v['expert-cache-policy'] as ExpertCachePolicy | undefined,
    prefetch: v.prefetch, prefetchTopK: v['prefetch-top-k'] === undefined ? undefined : intArg(v['prefetch-top-k'], 'prefetch-top-k'),
    cacheAwareMargin: numberArg(v['cache-aware-margin'], 'cache-aware-margin') };
}

export function sourceOf(model = bundledModelDir): ModelSource {
  return nodeModelSource(model);
}

export async function loadEngine(model: string | undefined, dtype: string | undefined,
  parallel: Partial<ExpertParallelOptions & ExpertCacheOptions> & Pick<LoadModelOptions, 'maxSequences'> = {}): Promise<Engine>
{
  let last = 0;
  return loadModel(sourceOf(model), {
    ...parallel,
    dtype: dtypeArg(dtype),
    onProgress: (p) => {
      const now = performance.now();
      if (process.stderr.isTTY && (now - last > 200 || p.loadedBytes === p.totalBytes)) {
        last = now;
        process.stderr.write(
          `\rloading ${(p.loadedBytes / 2 ** 20).toFixed(1)} / ${(p.totalBytes / 2 ** 20).toFixed(1)} MiB  ${p.tensor.slice(0, 60).padEnd(60)}`,
        );
        if (p.loadedBytes === p.totalBytes) process.stderr.write('\n');
      }
    },
  });
}

export async function generate(args: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args,
    strict: true,
    options: {
      ...modelOptions,
      prompt: { type: 'string' },
      chat: { type: 'boolean', default: false },
      'max-tokens': { type: 'string', default: '128' },
      temperature: { type: 'string', default: '0' },
      'top-k': { type: 'string' },
      'top-p': { type: 'string' },
      'repetition-penalty': { type: 'string' },
      seed: { type: 'string' },
      stop: { type: 'string', multiple: true },
    },
  });
  if (v.prompt === undefined) throw new Error('--prompt TEXT is required');
  const engine = await loadEngine(v.model, v.dtype, { ...parallelArgs(v), ...cacheArgs(v) });
  useRoutingArgs(engine, v);
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  const prompt = v.chat ? [{ role: 'user', content: v.prompt }] : v.prompt;
  for await (const chunk of engine.generate(prompt, {
    maxTokens: numberArg(v['max-tokens'], 'max-tokens'),
    temperature: numberArg(v.temperature, 'temperature'),
    topK: numberArg(v['top-k'], 'top-k'),
    topP: numberArg(v['top-p'], 'top-p'),
    repetitionPenalty: numberArg(v['repetition-penalty'], 'repetition-penalty'),
    seed: numberArg(v.seed, 'seed'),
    stop: v.stop,
    signal: controller.signal,
  })) {
    process.stdout.write(chunk.text);
    const s = chunk.stats;
    if (s) {
      process.stdout.write('\n');
      console.error(`\n${s.promptTokens} prompt tokens, ${s.completionTokens} generated (${s.finishReason}); ` +
        `prefill ${s.prefillTokensPerSecond.toFixed(1)} tok/s, decode ${s.decodeTokensPerSecond.toFixed(1)} tok/s, ` +
        `time to first token ${s.timeToFirstTokenMs.toFixed(0)} ms`);
      const c = s.expertCache;
      if (c) {
        console.error(`expert cache: ${c.slots} slots, hit rate ${(100 * c.hitRate).toFixed(1)}%, ` +
          `${(c.bytesPerToken / 2 ** 20).toFixed(2)} MiB uploaded a token, prefetch precision ${c.prefetch.precision.toFixed(2)} recall ${
            c.prefetch.recall.toFixed(2)
          }`);
      }
      if (s.routing) {
        console.error(`experts per token ${s.routing.activePerToken.toFixed(2)} (of ${engine.config.experts}), ` +
          `expert ${(s.routing.expertFlopsPerToken / 1e6).toFixed(2)} MFLOP and ${(s.routing.expertBytesPerToken / 2 ** 20).toFixed(2)} MiB per token, ` +
          `${s.routing.dropped} pairs dropped; load max/mean per layer ${s.routing.layers.map((l) => l.maxOverMean.toFixed(2)).join(' ')}`);
      }
    }
  }
  engine.dispose();
}

export async function logits(args: string[]): Promise<void> {
  const { values: v } = parseArgs({ args, strict: true, options: { ...modelOptions, tokens: { type: 'string' } } });
  if (!v.tokens) throw new Error('--tokens 1,2,3 is required');
  const tokens = tokensArg(v.tokens, 'tokens');
  const engine = await loadEngine(v.model, v.dtype, { ...parallelArgs(v), ...cacheArgs(v) });
  try {
    useRoutingArgs(engine, v);
    const rows = await engine.logits(tokens);
    process.stdout.write(`${JSON.stringify({ logits: rows.map((r) => Array.from(r)) })}\n`);
  } finally {
    engine.dispose();
  }
}

export async function inspect(args: string[]): Promise<void> {
  const [path] = args;
  if (!path) throw new Error('inspect needs a .safetensors file or a model folder');
  const table = (tensors: Iterable<TensorInfo>) => {
    let bytes = 0;
    for (const t of tensors) {
      bytes += t.end - t.begin;
      console.log(`${t.name.padEnd(56)} ${t.dtype.padEnd(5)} [${t.shape.join(', ')}]`.padEnd(90) + ` ${t.end - t.begin} bytes`);
    }
    return bytes;
  };
  if (statSync(path).isDirectory()) {
    const ckpt = await openCheckpoint(nodeDirSource(path));
    const bytes = table([...ckpt.tensors.values()].sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true })));
    console.log(`${ckpt.tensors.size} tensors in ${ckpt.files.length} file(s), ${bytes} bytes`);
    console.log(JSON.stringify(readConfig(ckpt.config).config, null, 2));
  } else {
    const header = await readSafetensorsHeader(basename(path), await nodeFile(path));
    const bytes = table(header.tensors.values());
    console.log(`${header.tensors.size} tensors, ${bytes} bytes; metadata ${JSON.stringify(header.metadata)}`);
  }
}
