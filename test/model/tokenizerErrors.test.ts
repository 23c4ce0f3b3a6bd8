// A tokenizer.json the runtime cannot honour ends in a TokenizerError naming the file and the problem,
// never a guessed model or a bare TypeError from the library.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TextTokenizer, TokenizerError } from '../../src/model/tokenizer.js';

const dir = new URL('../fixtures/tokenizer/', import.meta.url);
const json = JSON.parse(readFileSync(new URL('tokenizer.json', dir), 'utf8'));
const config = JSON.parse(readFileSync(new URL('tokenizer_config.json', dir), 'utf8'));

function refusal(tokenizerJson: unknown, tokenizerConfig: object = config): string {
  try {
    TextTokenizer.fromJSON(tokenizerJson as object, tokenizerConfig);
  } catch (e) {
    expect(e).toBeInstanceOf(TokenizerError);
    return (e as Error).message;
  }
  throw new Error('accepted');
}

describe('tokenizer.json errors', () => {
  it('an unknown model type is refused, not guessed', () => {
    expect(json.model.type).toBe('BPE');
    expect(refusal({ ...json, model: { ...json.model, type: 'Foo' } })).toBe(
      'webmoe: tokenizer.json: model type "Foo" is not supported (BPE, WordPiece, Unigram)',
    );
    expect(refusal({ ...json, model: { ...json.model, type: 3 } })).toMatch(/model type 3 is not supported/);
    // No type at all: guessed from its keys, as the reference library does (older files have none).
    const { type: _, ...untyped } = json.model;
    expect(TextTokenizer.fromJSON({ ...json, model: untyped }, config).encode('Hello')).toEqual(TextTokenizer.fromJSON(json, config).encode('Hello'));
  });

  it('a missing or malformed model, vocabulary or merges is named', () => {
    const { model: _, ...noModel } = json;
    expect(refusal(noModel)).toBe('webmoe: tokenizer.json: model must be an object, got undefined');
    expect(refusal({ ...json, model: null })).toBe('webmoe: tokenizer.json: model must be an object, got null');
    expect(refusal({ ...json, model: { ...json.model, vocab: undefined } })).toBe(
      'webmoe: tokenizer.json: model.vocab of a BPE model must be an object, got undefined',
    );
    expect(refusal({ ...json, model: { ...json.model, vocab: [1] } })).toMatch(/model.vocab of a BPE model must be an object, got \[1\]/);
    expect(refusal({ ...json, model: { ...json.model, merges: 'a b' } })).toMatch(/model.merges of a BPE model must be an array, got "a b"/);
    expect(refusal({ ...json, model: { type: 'Unigram', vocab: {} } })).toMatch(/model.vocab of a Unigram model must be an array/);
    for (const bad of [null, [], 'x', 3]) expect(refusal(bad)).toMatch(/^webmoe: tokenizer.json must be an object, got /);
  });

  it('what the library refuses is wrapped with the file named', () => {
    for (const key of ['pre_tokenizer', 'normalizer', 'decoder', 'post_processor']) {
      expect(refusal({ ...json, [key]: { type: 'Nope' } })).toMatch(/^webmoe: tokenizer.json cannot be loaded: Unknown \w+ type: Nope/);
    }
  });

  it('add_bos_token without a BOS token in the vocabulary', () => {
    expect(refusal(json, { ...config, tokenizer_class: 'LlamaTokenizerFast', bos_token: '<nope>' })).toBe(
      'webmoe: tokenizer_config.json has add_bos_token but no bos_token in the vocabulary',
    );
  });
});
