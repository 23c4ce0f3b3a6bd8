// Runs in the grammar test page: structured output through the `webmoe` browser entry, so
// @mlc-ai/web-xgrammar loads as a bundler serves it to a browser (not Node's CommonJS path).
import { createDevice, loadModel } from '../../src/index.js';

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

Object.assign(globalThis, { structuredReply });
