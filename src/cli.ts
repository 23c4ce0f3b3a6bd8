// The webmoe command line (Node, Dawn). Commands grow with the project; see `webmoe --help`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { type BenchRecord, runBenchmarks } from './bench/cases.js';
import { benchModel, copyBandwidth, type ModelBenchRecord, modelBenchSize } from './bench/model.js';
import type { DecodeProfile } from './api/stats.js';
import { syntheticGraniteSource } from './bench/synthetic.js';
import { Engine } from './api/engine.js';
import { loadPeers, runPeerGemms, runPeerMoE } from './bench/peers.js';
import { adapterName, benchReport, gpuEnvironment } from './bench/report.js';
import { tileChoices } from './kernels/tiles.js';
import { tileTrials } from './moe/tune.js';
import { medianMs, randomArray } from './gpu/timing.js';
import { MoELayer } from './moe/layer.js';
import { checkTokens, referenceQuantize } from './moe/reference.js';
import type { MoEConfig, MoEWeights } from './moe/spec.js';
import { readBuffers, Workspace } from './gpu/workspace.js';
import { dtypeArg, errorLine, intArg, levelsArg } from './cli/args.js';
import { generate, inspect, loadEngine, logits } from './cli/model.js';
import { perplexity } from './cli/perplexity.js';
import { expertCacheBench, marginsArg } from './cli/expertCacheBench.js';
import { batchingBench } from './cli/batchingBench.js';
import { EXPERT_CACHE_TOKENS } from './bench/expertCache.js';
import { sweep } from './cli/sweep.js';
import { benchWorkers } from './cli/workersBench.js';
import { serveCommand } from './cli/serve.js';
import { serveBench } from './cli/serveBench.js';
import { createNodeDevice } from './node.js';
import type { HostWeights } from './weights/convert.js';
import { isQuant } from './weights/format.js';

const HELP = `webmoe: sparse Mixture-of-Experts on WebGPU

  webmoe moe-demo [--tokens 64] [--experts 8] [--top-k 2] [--hidden 256] [--intermediate 512]
                  [--dtype f32|f16|q8|q4] [--seed 1]
      One MoE block on random weights: prints routing, expert load and timing.
  webmoe generate [--model DIR|URL] --prompt TEXT [--chat] [--max-tokens 128] [--temperature 0]
                  [--top-k K] [--top-p P] [--repetition-penalty R] [--seed S] [--stop STR]
                  [--dtype f32|f16|q8|q4] [--workers N [--gpu-expert-budget MB] [--cpu-workers N]]
      Streams the model's continuation (or chat reply), then prefill/decode speed. Without
      --model: the bundled model (a small MoE trained on Jane Austen's novels).
      --workers N: the routed experts sharded over N GPU worker threads (expert-parallel);
      --gpu-expert-budget MB: the experts past MB live on CPU workers (--cpu-workers, default 1).
      --expert-cache MB [--host-cache MB] [--expert-cache-policy lru|lfu] [--prefetch [--prefetch-top-k N]]
      [--cache-aware-margin M]: the routed experts loaded on demand into MB of GPU slots
      (docs/expert-cache.md); also for logits, perplexity.
      Routing flags (generate, logits, perplexity; docs/routing.md): --top-k-experts K,
      --expert-top-p P [--expert-min-k K], --capacity-factor C [--capacity-mode drop|next],
      --disable-experts LAYER:E,E,… (repeatable).
  webmoe logits [--model DIR|URL] --tokens 1,2,3 [--dtype f32|f16|q8|q4] [--workers N ...]
      Prints {"logits": [[...], ...]}: the logits of every position, by generation's prefill path.
  webmoe inspect FILE_OR_DIR
      Tensors (name, dtype, shape, bytes) and the parsed config, or the named error of a bad file.
  webmoe perplexity [--model DIR|URL] --text FILE [--window 256] [--windows N] [--dtype f32|f16|q8|q4]
      Mean next-token loss and perplexity of the text, in windows of --window tokens after the BOS.
  webmoe sweep [--model DIR|URL] --text FILE [--window 256] [--windows N] [--max-k K]
               [--top-p 0.5,0.6,0.7,0.8,0.9,0.95] [--decode-tokens 32] [--out bench-results/sweep.json]
               [--svg bench-results/sweep.svg]
      Routing's quality against cost: for k = 1 … K (default E) and each top-p, experts per token,
      expert FLOPs and bytes per token, perplexity of the text and decode tok/s; JSON and an SVG chart.
  webmoe bench [--quick] [--runs 5] [--dtype f32|f16|q8|q4] [--model DIR|URL | --skip-model]
               [--synthetic granite] [--peers] [--out bench-results/bench.json]
      Copy bandwidth, dense GEMM, the MoE block sparse and dense, then the model's (default: the
      bundled one's) prefill/decode speed; a table, and JSON to --out (the benchmark page's shape).
      --peers: also dense MatMul in peer WebGPU libraries (tfjs, onnxruntime-web) on the same device, and
      onnxruntime's com.microsoft.QMoE on the MoE shape (onnxruntime-web's WebGPU EP on the same device,
      onnxruntime-node's CPU and WebGPU EPs; int4 weights, int8 with --dtype q8: compare with --dtype q4),
      from a checkout after npm install --ignore-scripts --prefix bench/peers.
      --synthetic granite: also granite-3.1-1b-a400m's shape with random weights made as they load (2.7 GB
      of BF16; --quick: 2 of its 24 layers); each model's row adds its weight bytes per decode token and
      the decode floor: copy bandwidth / those bytes.
  webmoe bench --expert-cache [--model DIR|URL] [--text FILE] [--tokens 400] [--dtype …] [--out bench-results/expert-cache.json]
      The expert cache alone: a text decoded teacher-forced (default: the held-out Austen excerpt
      bench/austen-heldout.txt on the bundled model) with every expert resident, then at budgets of
      2, 4, 6 and all experts a layer, LRU and LFU, prefetch off and on: hit rate, MiB uploaded a token,
      decode tok/s and its ratio to all-resident, prefetch precision/recall.
      --prefetch-top-k N: the prefetch rows predict N experts a token (default the model's top-k).
      --cache-aware-margins 0,0.5,1,2: LRU rows at each cache-aware routing margin (router logits),
      each with the text's teacher-forced perplexity (every row reports it; the fused one too).
      --synthetic qwen3-30b-a3b [--gpu-mb 2048] [--host-mb 4096] [--quick]: instead, a random model of
      Qwen3-30B-A3B's MoE shape (29 B parameters; --quick: 4 of its 48 layers) end to end through the
      cache: load time, prefill/decode tok/s, hit rate, MiB uploaded a token, and the decode floor.
  webmoe bench --batching [--model DIR|URL | --synthetic granite] [--streams 1,2,4,8] [--max-tokens 32]
               [--dtype …] [--out bench-results/batching.json]
      Generations decoded together against the same requests one after another, per number of
      streams: total tok/s, latency p50/max, sequences a forward, routed expert bytes read a token,
      the speedup, and whether each stream's greedy tokens are the same both ways.
  webmoe bench-workers [--model DIR] [--workers 2] [--prompt-tokens 64] [--decode-tokens 16]
                       [--runs 3] [--dtype f32|f16|q8|q4] [--out bench-results/workers.json]
      Prefill/decode tok/s of the fused path, N GPU shard workers, and half the experts on a CPU
      worker, with the expert-parallel time split (readback, host, experts, transfer).
  webmoe serve [--model DIR|URL] [--host 127.0.0.1] [--port 8080] [--api-key KEY] [--max-sequences 4]
               [--max-queue 16] [--dtype f32|f16|q8|q4] [the model flags of generate]
      An OpenAI-compatible HTTP server (docs/serve.md): POST /v1/chat/completions and /v1/completions
      (SSE with stream: true), GET /v1/models, GET /health. --api-key (or env WEBMOE_API_KEY): requests
      need Authorization: Bearer KEY. --max-sequences: decoded together; --max-queue: more may wait,
      one more gets 429. A client that disconnects aborts its generation. Ctrl-C stops it.
  webmoe serve-bench [--model DIR|URL] [--requests 32] [--concurrency 1,2,4,8] [--max-tokens 32]
                     [--max-sequences 4] [--dtype …] [--out bench-results/serve.json]
      A load test of serve on loopback, the client in a second process: the requests one after
      another (the baseline), then at each concurrency: completion tok/s, p50/p99 latency, p50 time to
      first token, and how many replies were complete and equal to the baseline's (greedy).
`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === 'moe-demo') return moeDemo(rest);
  if (command === 'bench') return bench(rest);
  if (command === 'generate') return generate(rest);
  if (command === 'logits') return logits(rest);
  if (command === 'inspect') return inspect(rest);
  if (command === 'perplexity') return perplexity(rest);
  if (command === 'sweep') return sweep(rest);
  if (command === 'bench-workers') return benchWorkers(rest);
  if (command === 'serve') return serveCommand(rest);
  if (command === 'serve-bench') {
    await serveBench(rest);
    return;
  }
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(HELP);
    return;
  }
  throw new Error(`unknown command '${command}'\n\n${HELP}`);
}

async function moeDemo(args: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args,
    strict: true,
    options: {
      tokens: { type: 'string', default: '64' },
      experts: { type: 'string', default: '8' },
      'top-k': { type: 'string', default: '2' },
      hidden: { type: 'string', default: '256' },
      intermediate: { type: 'string', default: '512' },
      dtype: { type: 'string', default: 'f32' },
      seed: { type: 'string', default: '1' },
    },
  });
  const T = intArg(v.tokens, 'tokens');
  const E = intArg(v.experts, 'experts');
  const k = intArg(v['top-k'], 'top-k');
  const H = intArg(v.hidden, 'hidden');
  const I = intArg(v.intermediate, 'intermediate');
  const dtype = dtypeArg(v.dtype);
  const seed = intArg(v.seed, 'seed');

  const device = await createNodeDevice();
  console.log(`webmoe moe-demo: one MoE block on random weights, T=${T} H=${H} I=${I} E=${E} k=${k} (${dtype}), seed ${seed}`);
  console.log(`adapter: ${adapterName(device.adapterInfo)}`);
  const config: MoEConfig = { hidden: H, intermediate: I, numExperts: E, topK: k, normTopK: true, dtype };
  const weights: MoEWeights<HostWeights> = {
    router: randomArray(E * H, seed, 1 / Math.sqrt(H)),
    gateUp: randomArray(E * 2 * I * H, seed + 1, 1 / Math.sqrt(H)),
    down: randomArray(E * H * I, seed + 2, 1 / Math.sqrt(I)),
  };
  const layer = MoELayer.create(device, config, weights);
  const ws = new Workspace(device);
  const xHost = randomArray(T * H, seed + 3);
  const x = ws.upload(xHost, 'x');
  const y = ws.buffer(T * H * 4, 'y');
  const enc = device.createCommandEncoder();
  layer.encode(enc, x, y, T);
  const r = layer.routing();
  const [yb, ib, wb, cb] = await readBuffers(device, [y, r.ids, r.weights, r.counts], enc);
  const ids = new Uint32Array(ib);
  const routeW = new Float32Array(wb);
  const counts = new Uint32Array(cb, 0, E);

  console.log('\ntoken  experts (routing weight)');
  for (let t = 0; t < Math.min(T, 8); t++) {
    const picks = Array.from({ length: k }, (_, j) => `${ids[t * k + j]} (${routeW[t * k + j].toFixed(3)})`);
    console.log(`${String(t).padStart(5)}  ${picks.join('  ')}`);
  }
  if (T > 8) console.log(`  … ${T - 8} more tokens`);
  console.log('\nexpert load (tokens routed to each expert)');
  const most = Math.max(...counts, 1);
  counts.forEach((c, e) => console.log(`  e${String(e).padEnd(3)} ${'█'.repeat(Math.round((30 * c) / most)).padEnd(30)} ${c}`));

  const checked = Math.min(T, 4);
  // q8/q4: the reference on the dequantized weights checks the kernels; on the f32 ones, the quantization.
  const stored = isQuant(dtype)
    ? { ...weights, gateUp: referenceQuantize(weights.gateUp, H, dtype), down: referenceQuantize(weights.down, I, dtype) } :
    weights;
  const { error, rejected } = checkTokens({ ...config, ...stored }, xHost, checked, new Float32Array(yb), ids);
  console.log(`\nfirst ${checked} tokens against the float64 CPU reference${isQuant(dtype) ? ` on the dequantized ${dtype} weights` : ''}: ` +
    `relative error ${error.toExponential(1)}${rejected.length ? ` (routing differs: ${rejected.join('; ')})` : ''}`);
  if (isQuant(dtype)) {
    const q = checkTokens({ ...config, ...weights }, xHost, checked, new Float32Array(yb), ids).error;
    console.log(`${dtype} against the f32 weights (quantization error): relative error ${q.toExponential(1)}`);
  }

  const ms = await medianMs(device, (e) => layer.encode(e, x, y, T), 5);
  const gflop = (T * k * 6 * H * I) / 1e9;
  console.log(`time: ${ms.toFixed(2)} ms per block (median of 5), ${(gflop / (ms / 1e3)).toFixed(2)} GFLOP/s, ` +
    `${T <= 4 ? 'indexed GEMV (decode) path' : 'grouped GEMM (prefill) path'}`);
  layer.destroy();
  ws.destroy();
  device.destroy();
}

async function bench(args: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args,
    strict: true,
    options: {
      quick: { type: 'boolean', default: false },
      runs: { type: 'string', default: '5' },
      dtype: { type: 'string', default: 'f32' },
      out: { type: 'string', default: 'bench-results/bench.json' },
      model: { type: 'string' },
      'skip-model': { type: 'boolean', default: false },
      peers: { type: 'boolean', default: false },
      synthetic: { type: 'string' },
      'expert-cache': { type: 'boolean', default: false },
      batching: { type: 'boolean', default: false },
      streams: { type: 'string', default: '1,2,4,8' },
      'max-tokens': { type: 'string', default: '32' },
      text: { type: 'string' },
      tokens: { type: 'string', default: String(EXPERT_CACHE_TOKENS) },
      'prefetch-top-k': { type: 'string' },
      'cache-aware-margins': { type: 'string' },
      'gpu-mb': { type: 'string', default: '2048' },
      'host-mb': { type: 'string', default: '4096' },
    },
  });
  if (v['expert-cache']) {
    const out = v.out === 'bench-results/bench.json' ? 'bench-results/expert-cache.json' : v.out!;
    const o = { model: v.model, text: v.text, tokens: intArg(v.tokens, 'tokens'), dtype: dtypeArg(v.dtype), out, quick: v.quick!, synthetic: v.synthetic,
      gpuMiB: intArg(v['gpu-mb'], 'gpu-mb'), hostMiB: intArg(v['host-mb'], 'host-mb'),
      prefetchTopK: v['prefetch-top-k'] === undefined ? undefined : intArg(v['prefetch-top-k'], 'prefetch-top-k'),
      margins: v['cache-aware-margins'] === undefined ? undefined : marginsArg(v['cache-aware-margins']) };
    return expertCacheBench(o);
  }
  if (v.batching) {
    const out = v.out === 'bench-results/bench.json' ? 'bench-results/batching.json' : v.out!;
    return batchingBench({ model: v.model, synthetic: v.synthetic, dtype: dtypeArg(v.dtype), streams: levelsArg(v.streams!, 'streams'),
      maxTokens: intArg(v['max-tokens'], 'max-tokens'), out });
  }
  if (v.synthetic !== undefined && v.synthetic !== 'granite') {
    throw new Error(`--synthetic: the one synthetic model is 'granite' (granite-3.1-1b-a400m, random weights), got '${v.synthetic}'`);
  }
  const dtype = dtypeArg(v.dtype);
  const quick = v.quick!;
  // Peers load before anything runs, so a missing install fails at once. bench/peers/ sits beside
  // dist/ in a checkout (not in the published package); a variable, so the build leaves it alone.
  const peersDir = '../bench/peers/';
  const peers = v.peers ? await loadPeers(new URL(peersDir, import.meta.url)) : [];
  const device = await createNodeDevice();
  const adapter = adapterName(device.adapterInfo);
  console.log(`webmoe bench on ${adapter}${quick ? ' (quick shapes)' : ''}, ${dtype} weights, median of ${v.runs} runs`);
  const row = (r: BenchRecord) =>
    `${r.name.padEnd(v.peers ? 26 : 10)} ${r.shape.padEnd(32)} ${r.ms.toFixed(3).padStart(10)} ms` +
    `${r.gflops === null ? ''.padStart(18) : `${r.gflops.toFixed(2).padStart(10)} GFLOP/s`}${r.gbps === null ? '' : `${r.gbps.toFixed(2).padStart(9)} GB/s`}` +
    `   err ${r.error.toExponential(1)}`;
  const records = await runBenchmarks(device, { quick, runs: intArg(v.runs, 'runs'), dtype, onRecord: (r) => console.log(row(r)) });
  // Peers' dense MatMul (f32) at the same GEMM shapes on this device, after webmoe's cases.
  records.push(...await runPeerGemms(device, peers, { quick, runs: intArg(v.runs, 'runs'), onRecord: (r) => console.log(row(r)) }));
  records.push(...await runPeerMoE(device, peers, { quick, runs: intArg(v.runs, 'runs'), dtype, onRecord: (r) => console.log(row(r)) }));
  const environment = {
    runtime: `node ${process.version}`,
    platform: `${process.platform} ${process.arch}`,
    ...gpuEnvironment(device),
    tiles: { chosen: tileChoices(device), timed: tileTrials(device) },
  };
  device.destroy();
  const bandwidthBytesPerSecond = copyBandwidth(records);
  let model: ModelBenchRecord | undefined;
  if (!v['skip-model']) {
    model = await benchModel(() => loadEngine(v.model, dtype), { dtype, ...modelBenchSize(quick), bandwidthBytesPerSecond });
  }
  let synthetic: ModelBenchRecord | undefined;
  if (v.synthetic !== undefined) {
    // granite-3.1-1b-a400m's shape with random weights, made as they stream in (quick: 2 of its 24 layers)
    const source = syntheticGraniteSource(quick ? { scale: { layers: 2 } } : {});
    synthetic = await benchModel(async () => Engine.load(await createNodeDevice(), source, { dtype }), { dtype, ...modelBenchSize(quick),
      bandwidthBytesPerSecond });
  }
  const report = benchReport(adapter, { dtype, quick }, records, { ...(model && { model }), ...(synthetic && { synthetic }), environment });
  for (const [name, value] of Object.entries(report.ratios)) console.log(`${name.padEnd(56)} ${value.toFixed(2)}`);
  for (const m of [model, synthetic]) {
    if (!m) continue;
    console.log(`model ${m.model} (${m.promptTokens} prompt tokens, ${m.generatedTokens} generated): load ${m.loadSeconds.toFixed(1)} s, prefill ` +
      `${m.prefillTokensPerSecond.toFixed(1)} tok/s, decode ${m.decodeTokensPerSecond.toFixed(1)} tok/s, first token ${m.timeToFirstTokenMs.toFixed(0)} ms; ` +
      `${(m.activeBytesPerToken / 1e6).toFixed(1)} MB of weights per token` +
      (m.floorTokensPerSecond ? `, floor ${m.floorTokensPerSecond.toFixed(1)} tok/s, decode / floor ${m.decodeOverFloor!.toFixed(3)}` : '') +
      (m.dispatchesPerDecodeStep
        ? `; ${m.dispatchesPerDecodeStep} dispatches per decode step (${m.dispatchesPerDecodeStepPerLayer!.toFixed(1)} per layer)`
        : ''));
    const step = (p?: DecodeProfile) => p ? `GPU ${p.gpuMs.toFixed(2)} ms, readback ${p.readbackMs.toFixed(2)} ms, CPU ${p.cpuMs.toFixed(2)} ms a token` : '';
    console.log(`  sampled on the GPU: ${step(m.decodeProfile)}`);
    if (m.cpuSampling) {
      console.log(`  sampled on the CPU: decode ${m.cpuSampling.decodeTokensPerSecond.toFixed(1)} tok/s` +
        (m.cpuSampling.decodeOverFloor ? ` (decode / floor ${m.cpuSampling.decodeOverFloor.toFixed(3)})` : '') + `; ${step(m.cpuSampling.decodeProfile)}`);
    }
    if (m.reuse) {
      console.log(`  turn ${m.reuse.turns} of a chat (${m.reuse.promptTokens} prompt tokens, ${m.reuse.cachedTokens} cached): first token ` +
        `${m.reuse.timeToFirstTokenMs.toFixed(0)} ms with the cache kept, ${m.reuse.timeToFirstTokenNoReuseMs.toFixed(0)} ms without`);
    }
  }
  mkdirSync(dirname(v.out!), { recursive: true });
  writeFileSync(v.out!, JSON.stringify(report, null, 2));
  console.log(`wrote ${v.out}`);
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(errorLine(e));
    process.exit(1);
  },
);
