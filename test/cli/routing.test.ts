// The routing flags: parsed into the engine's routing options, bad values refused naming the flag.
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/args.js';
import { routingArgs } from '../../src/cli/routing.js';

describe('CLI routing flags', () => {
  it('parse into routing options; --disable-experts builds per-layer masks', () => {
    expect(routingArgs({
      'top-k-experts': '3',
      'expert-top-p': '0.9',
      'expert-min-k': '1',
      'capacity-factor': '1.25',
      'capacity-mode': 'next',
      'disable-experts': ['0:1,3', '2:0', '0:4'],
    }, 6)).toEqual({
      topK: 3,
      topP: 0.9,
      minK: 1,
      capacityFactor: 1.25,
      capacityMode: 'next',
      expertMask: { 0: [1, 0, 1, 0, 0, 1], 2: [0, 1, 1, 1, 1, 1] },
    });
    expect(routingArgs({}, 4)).toEqual({});
  });

  it('refuses bad values naming the flag', () => {
    expect(() => routingArgs({ 'capacity-mode': 'spill' }, 4)).toThrow(UsageError);
    expect(() => routingArgs({ 'capacity-mode': 'spill' }, 4)).toThrow(`--capacity-mode must be drop or next, got 'spill'`);
    expect(() => routingArgs({ 'disable-experts': ['1-3'] }, 4)).toThrow(`--disable-experts must be LAYER:E,E,… (whole numbers), got '1-3'`);
    expect(() => routingArgs({ 'disable-experts': ['0:4'] }, 4)).toThrow(`--disable-experts: expert 4 is not one of the model's 4 (0…3)`);
    expect(() => routingArgs({ 'expert-top-p': 'x' }, 4)).toThrow(`--expert-top-p must be a number, got 'x'`);
    expect(() => routingArgs({ 'top-k-experts': '1.5' }, 4)).toThrow(`--top-k-experts must be a whole number, got '1.5'`);
  });
});
