// A WebLLM app's code, unchanged but for its import ('@mlc-ai/web-llm' → webmoe/node; the model is a
// folder, not a WebLLM model id): create with a progress callback, stream a reply with usage, stop it
// from the "stop" button, read the message and the stats, reset the chat and ask again.
import { describe, expect, it } from 'vitest';
import * as webllm from '../../src/node.js';
import { modelDir } from '../helpers/models.js';

/** What the page shows: the progress lines, the streamed replies, the stats line. */
interface Page {
  progress: number[];
  replies: string[];
  stats: string;
  usage?: { prompt_tokens: number; completion_tokens: number };
}

// ---- the app (as WebLLM's examples write it) ----
async function chatApp(modelId: string, page: Page, stopAfter: number) {
  const engine = await webllm.CreateMLCEngine(modelId, {
    initProgressCallback: (report) => page.progress.push(report.progress),
  });
  const messages: { role: string; content: string }[] = [{ role: 'system', content: 'You are a helpful assistant.' }, { role: 'user',
    content: 'Tell me a story.' }];
  const chunks = await engine.chat.completions.create({
    messages,
    temperature: 0,
    max_tokens: 24,
    logit_bias: { '70': 100 }, // (the fixture model's EOS is likely: keep it talking)
    stream: true,
    stream_options: { include_usage: true },
  });
  let reply = '';
  let pieces = 0;
  for await (const chunk of chunks) {
    reply += chunk.choices[0]?.delta.content || '';
    if (++pieces === stopAfter) engine.interruptGenerate(); // the user pressed "stop"
    if (chunk.usage) page.usage = chunk.usage;
  }
  page.replies.push(await engine.getMessage());
  page.stats = await engine.runtimeStatsText();
  await engine.resetChat();
  const again = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Hello' }], temperature: 0, max_tokens: 4 });
  page.replies.push(again.choices[0].message.content ?? '');
  engine.dispose();
  return reply;
}
// ---- end of the app ----

describe('a WebLLM app', () => {
  it('runs on webmoe with only its import changed', async () => {
    const page: Page = { progress: [], replies: [], stats: '' };
    const streamed = await chatApp(modelDir('mixtral'), page, 5);
    expect(page.progress.length).toBeGreaterThan(0);
    expect(page.progress.every((p) => p >= 0 && p <= 1)).toBe(true);
    expect(page.progress[page.progress.length - 1]).toBe(1);
    expect(page.replies[0]).toBe(streamed);
    expect(page.usage!.completion_tokens).toBe(5); // stopped after five tokens
    expect(page.stats).toMatch(/^prefill: [\d.]+ tokens\/sec, decoding: [\d.]+ tokens\/sec$/);
    const fresh = await webllm.loadModel(modelDir('mixtral'));
    const reply = await fresh.chat.completions.create({ messages: [{ role: 'user', content: 'Hello' }], temperature: 0, max_tokens: 4 });
    expect(page.replies[1]).toBe(reply.choices[0].message.content); // after resetChat, as a fresh engine
    fresh.dispose();
  });

  it('refuses WebLLM config it does not honour, by name', async () => {
    await expect(webllm.CreateMLCEngine(modelDir('mixtral'), { appConfig: {} } as webllm.MLCEngineConfig)).rejects.toThrow(
      'webmoe: engineConfig.appConfig is not supported by webmoe (only initProgressCallback)',
    );
    await expect(webllm.CreateMLCEngine(modelDir('mixtral'), {}, { temperature: 1 })).rejects.toThrow('webmoe: chatOpts is not supported');
  });
});
