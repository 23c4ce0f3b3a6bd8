// `webmoe serve-bench`: a load test of `webmoe serve` on loopback. The server runs in this process;
// the client (src/serve/loadClient.ts) in a second one, forked: it sends the requests one after
// another (the baseline), then `concurrency` at a time for each level, and reports throughput, p50/p99
// latency, p50 time to first token, and how many replies were complete and equal to the baseline's.
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ChatCompletionRequest } from '../api/openai.js';
import type { LoadJob } from '../serve/loadClient.js';
import type { LoadRow } from '../serve/load.js';
import { serve } from '../serve/server.js';
import { intArg, levelsArg } from './args.js';
import { servedEngine, servedEngineOptions } from './serve.js';

// A variable, so that the build leaves the URL alone (the client script sits beside the CLI in dist/).
const HERE = import.meta.url;
const CLIENT = 'serve-load-client.js';

const WHO = ['Emma', 'Elizabeth', 'Mr. Darcy', 'Anne Elliot', 'Fanny Price', 'Mrs. Bennet', 'Captain Wentworth', 'Catherine'];
const ASKS = ['Tell me about {}.', 'What does {} think of Bath?', 'Write a letter from {}.', 'Whom will {} marry?'];

/** `n` distinct greedy chat requests (so that a wrong interleaving shows as a wrong reply). */
export function benchRequests(n: number, maxTokens: number, model: string): ChatCompletionRequest[] {
  return Array.from({ length: n }, (_, i) => ({
    model,
    messages: [{ role: 'user', content: ASKS[Math.floor(i / WHO.length) % ASKS.length].replace('{}', WHO[i % WHO.length]) }],
    max_tokens: maxTokens,
    temperature: 0,
  }));
}

export interface ServeBenchReport {
  date: string;
  model: string;
  dtype: string;
  maxSequences: number;
  maxTokens: number;
  requests: number;
  /** the requests one after another: the replies every row is checked against */
  baseline: LoadRow;
  rows: LoadRow[];
}

/** Runs the load client in a second Node process (`script`: the built client) against `url`. */
export function runClient(script: string, job: LoadJob): Promise<{ baseline: LoadRow; rows: LoadRow[] }> {
  return new Promise((resolve, reject) => {
    const child = fork(script, [], { stdio: 'inherit' });
    let answered = false;
    child.once('message', (m: { result?: { baseline: LoadRow; rows: LoadRow[] }; error?: string }) => {
      answered = true;
      if (m.result) resolve(m.result);
      else reject(new Error(m.error));
    });
    child.once('error', reject);
    child.once('exit', (code) => answered || reject(new Error(`webmoe serve-bench: the load client exited with code ${code} before answering`)));
    child.send(job);
  });
}

export async function serveBench(args: string[], clientScript = fileURLToPath(new URL(CLIENT, HERE))): Promise<ServeBenchReport> {
  const { values: v } = parseArgs({
    args,
    strict: true,
    options: {
      ...servedEngineOptions,
      requests: { type: 'string', default: '32' },
      concurrency: { type: 'string', default: '1,2,4,8' },
      'max-tokens': { type: 'string', default: '32' },
      out: { type: 'string', default: 'bench-results/serve.json' },
    },
  });
  const n = intArg(v.requests, 'requests');
  const maxTokens = intArg(v['max-tokens'], 'max-tokens');
  const concurrencies = levelsArg(v.concurrency, 'concurrency');
  const engine = await servedEngine(v);
  const { maxSequences } = engine;
  try {
    // Every request of a level may be in flight at once: none gets 429.
    const server = await serve(engine, { port: 0, maxQueue: Math.max(...concurrencies, 1) });
    try {
      console.log(`webmoe serve-bench: ${engine.model} at ${server.url}, ${n} requests of ${maxTokens} tokens at most, greedy; ` +
        `max-sequences ${maxSequences}; the client in a second process`);
      const requests = benchRequests(n, maxTokens, engine.model);
      await engine.chat.completions.create({ ...requests[0], max_tokens: 2, stream: false }); // warm-up: pipelines and plans
      const { baseline, rows } = await runClient(clientScript, { options: { url: server.url, requests }, concurrencies });
      console.log('concurrency    tok/s   p50 ms   p99 ms   p50 first-token ms  complete  correct');
      const line = (label: string, r: LoadRow) =>
        console.log(
          `${label.padEnd(11)} ${r.tokensPerSecond.toFixed(1).padStart(8)} ${r.latencyP50Ms.toFixed(0).padStart(8)} ${r.latencyP99Ms.toFixed(0).padStart(8)} ${
            r.firstTokenP50Ms.toFixed(0).padStart(20)
          } ${`${r.complete}/${r.requests}`.padStart(9)} ${`${r.correct}/${r.requests}`.padStart(8)}`,
        );
      line('baseline', baseline);
      for (const r of rows) line(String(r.concurrency), r);
      const report: ServeBenchReport = { date: new Date().toISOString(), model: v.model ?? 'bundled', dtype: v.dtype!, maxSequences, maxTokens, requests: n,
        baseline, rows };
      mkdirSync(dirname(v.out), { recursive: true });
      writeFileSync(v.out, JSON.stringify(report, null, 2));
      console.log(`wrote ${v.out}`);
      const wrong = rows.filter((r) => r.correct < r.requests);
      if (wrong.length) {
        throw new Error(`webmoe serve-bench: replies incomplete or unlike the baseline at concurrency ${wrong.map((r) => r.concurrency).join(', ')}`);
      }
      return report;
    } finally {
      await server.close();
    }
  } finally {
    engine.dispose();
  }
}
