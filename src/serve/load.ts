// The client side of `webmoe serve-bench`: streamed chat completions sent over fetch (SSE parsed here:
// the openai package is a devDependency only), a fixed number in flight, each timed (latency, time to
// first token) and checked: complete ([DONE] after a finish reason and usage) and, greedy, equal to
// the same request's reply in a sequential baseline.
import { quantile } from '../gpu/timing.js';

export interface LoadTestOptions {
  /** the server's base URL (http://host:port) */
  url: string;
  apiKey?: string;
  /** the chat completion requests' bodies (stream is set here) */
  requests: object[];
}

export interface Reply {
  text: string;
  completionTokens: number;
  finishReason: string | null;
  /** [DONE] came, after a finish reason and usage */
  complete: boolean;
  error?: string;
  latencyMs: number;
  /** from sending to the first chunk with content */
  firstTokenMs: number;
}

export interface LoadRow {
  concurrency: number;
  requests: number;
  wallMs: number;
  completionTokens: number;
  /** completion tokens of all requests over the wall time */
  tokensPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  firstTokenP50Ms: number;
  complete: number;
  /** replies equal to the baseline's (text and token count) */
  correct: number;
}

/** One streamed chat completion, timed and read to its end. */
export async function streamedReply(o: Pick<LoadTestOptions, 'url' | 'apiKey'>, body: object): Promise<Reply> {
  const start = performance.now();
  const reply: Reply = { text: '', completionTokens: 0, finishReason: null, complete: false, latencyMs: 0, firstTokenMs: NaN };
  try {
    const res = await fetch(`${o.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(o.apiKey && { Authorization: `Bearer ${o.apiKey}` }) },
      body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
    });
    if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
    let usage = false;
    const decoder = new TextDecoder();
    let buffered = '';
    const reader = res.body.getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      buffered += decoder.decode(r.value, { stream: true });
      let end: number;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const event = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const data = event.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
        if (data === '[DONE]') {
          reply.complete = reply.finishReason !== null && usage;
          continue;
        }
        const chunk = JSON.parse(data) as {
          error?: { message: string };
          choices: { delta: { content?: string }; finish_reason: string | null }[];
          usage?: { completion_tokens: number } | null;
        };
        if (chunk.error) throw new Error(chunk.error.message);
        for (const c of chunk.choices) {
          if (c.delta.content && Number.isNaN(reply.firstTokenMs)) reply.firstTokenMs = performance.now() - start;
          reply.text += c.delta.content ?? '';
          reply.finishReason = c.finish_reason ?? reply.finishReason;
        }
        if (chunk.usage) {
          usage = true;
          reply.completionTokens = chunk.usage.completion_tokens;
        }
      }
    }
  } catch (e) {
    reply.error = e instanceof Error ? e.message : String(e);
  }
  reply.latencyMs = performance.now() - start;
  return reply;
}

/** Every request, `concurrency` in flight at a time (each next one sent as one ends); the replies in request order. */
export async function runLoad(o: LoadTestOptions, concurrency: number): Promise<{ replies: Reply[]; wallMs: number }> {
  const replies: Reply[] = new Array(o.requests.length);
  let next = 0;
  const start = performance.now();
  const lane = async () => {
    while (next < o.requests.length) {
      const i = next++;
      replies[i] = await streamedReply(o, o.requests[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, o.requests.length) }, lane));
  return { replies, wallMs: performance.now() - start };
}

/** A concurrency's row: throughput, latency quantiles, and how many replies are complete and equal to the baseline's. */
export function loadRow(concurrency: number, { replies, wallMs }: { replies: Reply[]; wallMs: number }, baseline: Reply[]): LoadRow {
  const completionTokens = replies.reduce((s, r) => s + r.completionTokens, 0);
  return {
    concurrency,
    requests: replies.length,
    wallMs,
    completionTokens,
    tokensPerSecond: completionTokens / (wallMs / 1000),
    latencyP50Ms: quantile(replies.map((r) => r.latencyMs), 0.5),
    latencyP99Ms: quantile(replies.map((r) => r.latencyMs), 0.99),
    firstTokenP50Ms: quantile(replies.map((r) => r.firstTokenMs), 0.5),
    complete: replies.filter((r) => r.complete && !r.error).length,
    correct: replies.filter((r, i) => r.complete && !r.error && r.text === baseline[i].text && r.completionTokens === baseline[i].completionTokens).length,
  };
}

/** The baseline (the requests one after another), then a row per concurrency. */
export async function loadTest(o: LoadTestOptions, concurrencies: number[]): Promise<{ baseline: LoadRow; rows: LoadRow[] }> {
  const first = await runLoad(o, 1);
  const broken = first.replies.findIndex((r) => !r.complete || r.error);
  if (broken >= 0) throw new Error(`webmoe serve-bench: baseline request ${broken} failed: ${first.replies[broken].error ?? 'incomplete stream'}`);
  const rows = [];
  for (const c of concurrencies) rows.push(loadRow(c, await runLoad(o, c), first.replies));
  return { baseline: loadRow(1, first, first.replies), rows };
}
