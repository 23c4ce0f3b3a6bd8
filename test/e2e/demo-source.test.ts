// The chat page's model field: Hugging Face repo pages become their resolve/ folders.
import { describe, expect, it } from 'vitest';
import { resolveModelUrl } from '../../demo/chat/source.js';

const page = 'http://localhost:5173/index.html';

describe('resolveModelUrl', () => {
  it('turns a Hugging Face repo URL into its file folder', () => {
    expect(resolveModelUrl('https://huggingface.co/ibm-granite/granite-3.1-1b-a400m-instruct', page))
      .toBe('https://huggingface.co/ibm-granite/granite-3.1-1b-a400m-instruct/resolve/main/');
    expect(resolveModelUrl(' https://huggingface.co/allenai/OLMoE-1B-7B-0125-Instruct/tree/v2 ', page))
      .toBe('https://huggingface.co/allenai/OLMoE-1B-7B-0125-Instruct/resolve/v2/');
    expect(resolveModelUrl('https://huggingface.co/org/name/blob/main/config.json', page))
      .toBe('https://huggingface.co/org/name/resolve/main/');
  });

  it('keeps other URLs as folders, relative ones against the page', () => {
    expect(resolveModelUrl('./models/austen-moe', page)).toBe('http://localhost:5173/models/austen-moe/');
    expect(resolveModelUrl('https://example.org/m/', page)).toBe('https://example.org/m/');
  });

  it('refuses what is not a model', () => {
    expect(() => resolveModelUrl('', page)).toThrow(/Enter a model URL/);
    expect(() => resolveModelUrl('https://huggingface.co/datasets/a/b', page)).toThrow(/a Hugging Face dataset, not a model/);
    expect(() => resolveModelUrl('https://huggingface.co/gpt2x', page)).toThrow(/names ORG\/NAME/);
  });
});
