// The streamed text of a generation: stop strings found across deltas, the tail that may start one
// held back until it cannot, nothing shown after a stop string.
import { describe, expect, it } from 'vitest';
import { findStop, StreamedText } from '../../src/api/stops.js';

describe('findStop', () => {
  it('finds the earliest stop string', () => {
    expect(findStop('hello world', ['world', 'lo'])).toBe(3);
    expect(findStop('hello world', ['xyz'])).toBe(-1);
    expect(findStop('hello', [])).toBe(-1);
    expect(findStop('hello', [''])).toBe(-1);
    expect(findStop('a<|im_end|>b</s>', ['</s>', '<|im_end|>'])).toBe(1);
  });

  it('finds a stop string that spans two deltas once the text is accumulated', () => {
    let text = '';
    const at = ['The answer<|im', '_end|> trailing'].map((delta) => findStop(text += delta, ['<|im_end|>']));
    expect(at).toEqual([-1, 10]);
  });
});

/** A decoder that maps token i to the i-th piece. */
const pieces = (texts: string[]) => ({ push: (id: number) => texts[id], flush: () => '' });

describe('StreamedText', () => {
  it('holds back the last len − 1 characters of the longest stop string, and ends with the rest', () => {
    const text = new StreamedText(pieces(['Hello', ' <', 'b>', ' world']), ['<|x|>']);
    expect([0, 1, 2, 3].map((t) => text.push(t))).toEqual([
      { text: 'H', stopped: false },
      { text: 'el', stopped: false },
      { text: 'lo', stopped: false },
      { text: ' <b> w', stopped: false },
    ]);
    expect(text.end()).toBe('orld');
  });

  it('a stop string over two tokens: the text before it is the last, and the end adds nothing', () => {
    const text = new StreamedText(pieces(['The answer<|im', '_end|> trailing']), ['<|im_end|>', 'zz']);
    expect(text.push(0)).toEqual({ text: 'The a', stopped: false });
    expect(text.push(1)).toEqual({ text: 'nswer', stopped: true });
    expect(text.end()).toBe('');
  });

  it('without stop strings every delta shows at once; without a tokenizer the text is empty', () => {
    const text = new StreamedText(pieces(['a', 'b']), []);
    expect([text.push(0).text, text.push(1).text, text.end()]).toEqual(['a', 'b', '']);
    expect(new StreamedText(undefined, ['x']).push(5)).toEqual({ text: '', stopped: false });
  });
});
