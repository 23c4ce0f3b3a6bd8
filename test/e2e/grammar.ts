// Runs in the grammar test page: structured output through the `webmoe` browser entry, so
// @mlc-ai/web-xgrammar loads as a bundler serves it to a browser (not Node's CommonJS path); and a
// WebLLM app's worker engine (CreateWebWorkerMLCEngine), with a JSON reply made in the worker.
import { createDevice, CreateWebWorkerMLCEngine, loadModel } from '../../src/index.js';

/** A JSON-schema reply from the model at `url`, greedy. */
export async function structuredReply(url: string, schema: Record<string, unknown>) {
  const device = await createDevice();
  const engine = await loadModel(url, { device });
  const reply = await engine.chat.completions.create({
    messages: [{ role: 'user', content: 'Hi' }],
    max_tokens: 150,
    temperature: 0,
    response_format: { type: 'json_schema', json_schema: { name: 'thing', schema } },
  });
  engine.dispose();
  device.destroy();
  return { content: reply.choices[0].message.content, finish: reply.choices[0].finish_reason };
}

/** WebLLM's worker engine: progress, a streamed JSON reply with usage, interruptGenerate, getMessage, resetChat. */
export async function webllmWorker(url: string, schema: Record<string, unknown>) {
  const worker = new Worker(new URL('../../src/api/worker/engineWorker.ts', import.meta.url), { type: 'module' });
  const progress: number[] = [];
  const engine = await CreateWebWorkerMLCEngine(worker, url, { initProgressCallback: (r) => progress.push(r.progress) });
  let content = '';
  let usage;
  const stream = await engine.chat.completions.create({
    messages: [{ role: 'user', content: 'Hi' }],
    max_tokens: 150,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
    response_format: { type: 'json_schema', json_schema: { name: 'thing', schema } },
  });
  for await (const c of stream) {
    content += c.choices[0]?.delta.content ?? '';
    usage = c.usage ?? usage;
  }
  const message = await engine.getMessage();
  let pieces = 0;
  for await (const _ of await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }], max_tokens: 30, logit_bias: { 70: 100 },
    stream: true }))
  {
    if (++pieces === 2) engine.interruptGenerate();
  }
  await engine.resetChat();
  engine.dispose();
  return { progress: progress[progress.length - 1], content, message, completionTokens: usage?.completion_tokens, pieces };
}

Object.assign(globalThis, { structuredReply, webllmWorker });
