// The CLI's flag values and error lines: named errors for bad input, one `webmoe:` prefix.
import { describe, expect, it } from 'vitest';
import { errorLine, tokensArg, UsageError } from '../../src/cli/args.js';
import { ModelConfigError } from '../../src/model/config.js';

describe('CLI arguments', () => {
  it('--tokens: comma-separated whole numbers, nothing else', () => {
    expect(tokensArg('1,2,3', 'tokens')).toEqual([1, 2, 3]);
    expect(tokensArg('0', 'tokens')).toEqual([0]);
    const bad: [string, string][] = [
      ['1,,3', 'an empty item at item 2'],
      ['', 'an empty item at item 1'],
      ['1,2,', 'an empty item at item 3'],
      ['1,-2', '\'-2\' at item 2'],
      ['1.5', '\'1.5\' at item 1'],
      [' 2', '\' 2\' at item 1'],
      ['0x10', '\'0x10\' at item 1'],
      ['1e3', '\'1e3\' at item 1'],
      ['abc', '\'abc\' at item 1'],
      ['99999999999999999999', '\'99999999999999999999\' at item 1'],
    ];
    for (const [v, got] of bad) {
      expect(() => tokensArg(v, 'tokens'), v).toThrow(UsageError);
      expect(() => tokensArg(v, 'tokens'), v).toThrow(`--tokens must be comma-separated token ids (whole numbers), got ${got} of '${v}'`);
    }
  });

  it('an error prints with one webmoe: prefix', () => {
    expect(errorLine(new ModelConfigError('webmoe: config.json: x'))).toBe('webmoe: config.json: x');
    expect(errorLine(new UsageError('--tokens is required'))).toBe('webmoe: --tokens is required');
    expect(errorLine('plain')).toBe('webmoe: plain');
  });
});
