// `webmoe bench --cache-aware-margins`: the margins list, each item checked by name.
import { expect, it } from 'vitest';
import { marginsArg } from '../../src/cli/expertCacheBench.js';

it('marginsArg: comma-separated numbers ≥ 0; an empty, negative or non-numeric item is refused', () => {
  expect(marginsArg('0,0.25,1,2')).toEqual([0, 0.25, 1, 2]);
  expect(marginsArg('0.5')).toEqual([0.5]);
  expect(() => marginsArg('0,,1')).toThrow('--cache-aware-margins must be comma-separated numbers ≥ 0, got an empty item in \'0,,1\'');
  expect(() => marginsArg('0,-1')).toThrow('got \'-1\' in \'0,-1\'');
  expect(() => marginsArg('0,x')).toThrow('got \'x\' in \'0,x\'');
  expect(() => marginsArg('1, ')).toThrow('got \' \' in \'1, \'');
  expect(() => marginsArg('Infinity')).toThrow('got \'Infinity\'');
});
