// On the byte-level BPE fixture of scripts/fixtures/make_tokenizer.mjs.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ChatTemplateError, TextTokenizer, type ChatMessage } from '../../src/model/tokenizer.js';

const dir = new URL('../fixtures/tokenizer/', import.meta.url);
const tokenizerJson = JSON.parse(readFileSync(new URL('tokenizer.json', dir), 'utf8'));
const config = JSON.parse(readFileSync(new URL('tokenizer_config.json', dir), 'utf8'));
const tok = TextTokenizer.fromJSON(tokenizerJson, config);
const withoutTemplate = (): Record<string, unknown> => {
  const { chat_template: _, ...rest } = config;
  return rest;
};

const BOS = 0;
const EOS = 1;
const TEXTS = [
  'The experts and the router.',
  'Héllo wörld, café — 中文 😀👍🏽!',
  'it\'s   the end\n\nok  ',
  'Hello , world . Don \'t', // unchanged: no clean-up of tokenization spaces
];
const CHAT: ChatMessage[] = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'Hi there!' },
];
const CHAT_TEXT = '<s><|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi there!<|im_end|>\n';

const count = (ids: number[], id: number) => ids.filter((x) => x === id).length;

describe('TextTokenizer', () => {
  it('loads the fixture: under 320 tokens, <s> and </s> as BOS and EOS', () => {
    const ids = [...Object.values(tokenizerJson.model.vocab as Record<string, number>), ...tokenizerJson.added_tokens.map((t: { id: number }) => t.id)];
    expect(Math.max(...ids) + 1).toBeLessThan(320);
    expect(tok.bosToken).toBe('<s>');
    expect(tok.eosToken).toBe('</s>');
    expect(tok.bosId).toBe(BOS);
    expect(tok.hasChatTemplate).toBe(true);
  });

  it('encodes as Hugging Face tokenizers does, with one BOS', () => {
    // Ids from the Rust `tokenizers` library on the same files.
    expect(tok.encode('The experts and the router.')).toEqual([0, 270, 282, 285, 262, 36, 298, 50]);
    expect(tok.encode('The experts and the router.', { addSpecialTokens: false })).toEqual([270, 282, 285, 262, 36, 298, 50]);
    for (const text of TEXTS) {
      const ids = tok.encode(text);
      expect(ids[0]).toBe(BOS);
      expect(count(ids, BOS)).toBe(1);
      expect(count(tok.encode(text, { addSpecialTokens: false }), BOS)).toBe(0);
    }
  });

  it('round-trips ASCII and non-ASCII text', () => {
    for (const text of TEXTS) {
      expect(tok.decode(tok.encode(text, { addSpecialTokens: false }))).toBe(text);
      expect(tok.decode(tok.encode(text))).toBe('<s>' + text);
      expect(tok.decode(tok.encode(text), { skipSpecialTokens: true })).toBe(text);
    }
    expect(tok.decode([])).toBe('');
  });

  it('renders the chat template with and without the generation prompt', () => {
    expect(tok.applyChatTemplate(CHAT).text).toBe(CHAT_TEXT + '<|im_start|>assistant\n');
    expect(tok.applyChatTemplate(CHAT, { addGenerationPrompt: true }).text).toBe(CHAT_TEXT + '<|im_start|>assistant\n');
    expect(tok.applyChatTemplate(CHAT, { addGenerationPrompt: false }).text).toBe(CHAT_TEXT);
  });

  it('encodes the chat with exactly one BOS: the template writes it, the post-processor adds none', () => {
    const { text, ids } = tok.applyChatTemplate(CHAT);
    expect(ids[0]).toBe(BOS);
    expect(count(ids, BOS)).toBe(1);
    expect(ids).toEqual(tok.encode(text, { addSpecialTokens: false }));
    expect(tok.decode(ids)).toBe(text);
  });

  it('adds no special token the template does not write (as transformers)', () => {
    const t = TextTokenizer.fromJSON(tokenizerJson, config, '{% for m in messages %}{{ m[\'content\'] }}{% endfor %}');
    const { text, ids } = t.applyChatTemplate(CHAT);
    expect(text).toBe('Be brief.Hi there!');
    expect(ids).toEqual(t.encode(text, { addSpecialTokens: false }));
    expect(ids[0]).not.toBe(t.bosId);
  });

  it('takes chat_template.jinja over tokenizer_config, and the default of a template list', () => {
    const jinja = TextTokenizer.fromJSON(tokenizerJson, config, '{{ bos_token }}[{{ messages[0].content }}]');
    expect(jinja.applyChatTemplate(CHAT).text).toBe('<s>[Be brief.]');
    const list = TextTokenizer.fromJSON(tokenizerJson, {
      ...config,
      chat_template: [
        { name: 'tool_use', template: 'tools' },
        { name: 'default', template: '{{ eos_token }}' },
      ],
    });
    expect(list.applyChatTemplate(CHAT).text).toBe('</s>');
  });

  it('names the problem when there is no template or it is broken', () => {
    const none = TextTokenizer.fromJSON(tokenizerJson, withoutTemplate());
    expect(none.hasChatTemplate).toBe(false);
    expect(() => none.applyChatTemplate(CHAT)).toThrow(ChatTemplateError);
    expect(() => none.applyChatTemplate(CHAT)).toThrow(/has no chat template/);
    const unnamed = TextTokenizer.fromJSON(tokenizerJson, { ...config, chat_template: [{ name: 'tool_use', template: 'x' }] });
    expect(() => unnamed.applyChatTemplate(CHAT)).toThrow(/has no chat template/);
    const bad = TextTokenizer.fromJSON(tokenizerJson, config, '{% for m in messages %}');
    expect(() => bad.applyChatTemplate(CHAT)).toThrow(/chat template does not parse/);
    const raising = TextTokenizer.fromJSON(tokenizerJson, config, '{{ raise_exception(\'roles must alternate\') }}');
    expect(() => raising.applyChatTemplate(CHAT)).toThrow(/chat template failed to render: .*roles must alternate/);
  });

  it('streams deltas that add up to decode(), holding split UTF-8 characters back', () => {
    const ids = tok.encode('a 😀 中文, é!👍🏽 end', { addSpecialTokens: false });
    const stream = tok.stream();
    const deltas = ids.map((id) => stream.push(id));
    deltas.push(stream.flush());
    expect(deltas.join('')).toBe(tok.decode(ids));
    expect(deltas.some((d) => d.includes('\uFFFD'))).toBe(false);
    // The emoji is four byte tokens: nothing until the last one, then the whole character.
    const emoji = tok.encode('😀', { addSpecialTokens: false });
    expect(emoji).toHaveLength(4);
    const s = tok.stream();
    expect(emoji.map((id) => s.push(id))).toEqual(['', '', '', '😀']);
    expect(s.flush()).toBe('');
  });

  it('streams a chat with special tokens skipped or kept, and flushes an unfinished character', () => {
    const { ids } = tok.applyChatTemplate(CHAT);
    for (const skipSpecialTokens of [false, true]) {
      const stream = tok.stream({ skipSpecialTokens });
      const text = ids.map((id) => stream.push(id)).join('') + stream.flush();
      expect(text).toBe(tok.decode(ids, { skipSpecialTokens }));
    }
    const partial = tok.encode('ok 中', { addSpecialTokens: false }).slice(0, -1);
    const stream = tok.stream();
    const text = partial.map((id) => stream.push(id)).join('');
    expect(text).toBe('ok ');
    expect(text + stream.flush()).toBe(tok.decode(partial));
  });

  it('collects the EOS ids of the model config and the tokenizer', () => {
    expect([...tok.eosIds()]).toEqual([EOS]);
    expect([...tok.eosIds({ eos_token_id: EOS })]).toEqual([EOS]);
    expect(new Set(tok.eosIds({ eos_token_id: [3, EOS] }))).toEqual(new Set([3, EOS]));
    expect(new Set(tok.eosIds({ eos_token_id: 3 }))).toEqual(new Set([3, EOS]));
  });

  it('names a tokenizer.json it cannot load', () => {
    expect(() => TextTokenizer.fromJSON({ ...tokenizerJson, pre_tokenizer: { type: 'Nonsense' } }, config)).toThrow(/tokenizer\.json cannot be loaded/);
  });
});
