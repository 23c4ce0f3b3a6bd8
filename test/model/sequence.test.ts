// A sequence in the KV cache: appends run after the valid tokens, a failed call leaves the valid ones
// as they were, truncation lets a later append overwrite positions, and the common prefix of a prompt
// is what a later call need not prefill; with a sliding window, only what its ring still holds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Decoder } from '../../src/model/decoder.js';
import { Sequence } from '../../src/model/sequence.js';
import { relativeError } from '../../src/moe/reference.js';
import { testDevice } from '../helpers/gpu.js';
import { fixtureDecoder, golden } from '../helpers/models.js';

describe('Sequence', () => {
  let device: GPUDevice;
  let decoder: Decoder;
  beforeAll(async () => {
    device = await testDevice();
    decoder = await fixtureDecoder(device, 'mixtral', { contextLength: 16 });
  });
  afterAll(() => {
    decoder?.destroy();
    device?.destroy();
  });

  it('appends after the valid tokens; a failed call keeps them; truncation rewinds', async () => {
    const g = golden('mixtral');
    const V = g.logits[0].length;
    const seq = new Sequence(decoder);
    expect([seq.length, seq.room]).toEqual([0, 16]);
    await seq.append(g.tokens.slice(0, 3), 'last');
    const step = await seq.append([g.tokens[3]], 'last');
    expect(seq.tokens).toEqual(g.tokens.slice(0, 4));
    expect(relativeError(step, g.logits[3])).toBeLessThan(1e-4);

    await expect(seq.append([1, 400], 'last')).rejects.toThrow(/token 1 is 400, outside the vocabulary/);
    await expect(seq.append(new Array(13).fill(1), 'last')).rejects.toThrow(/positions 4…16 exceed the context length 16/);
    const aborted = new AbortController();
    aborted.abort(new Error('stop'));
    await expect(seq.append([1], 'last', aborted.signal)).rejects.toThrow('stop');
    expect(seq.tokens).toEqual(g.tokens.slice(0, 4));

    seq.truncate(2);
    const again = await seq.append(g.tokens.slice(2, 5), 'all');
    expect(seq.tokens).toEqual(g.tokens.slice(0, 5));
    for (let t = 0; t < 3; t++) expect(relativeError(again.subarray(t * V, (t + 1) * V), g.logits[2 + t])).toBeLessThan(1e-4);
  });

  it('with a sliding window: truncation keeps what the ring still holds, else nothing', async () => {
    const sliding = await fixtureDecoder(device, 'mixtral_sliding'); // window 4, a ring of 8
    const g = golden('mixtral_sliding', 'long');
    const V = g.logits[0].length;
    const seq = new Sequence(sliding);
    await seq.append(g.tokens.slice(0, 20), 'last');
    // position 18 reads keys 15…17; positions up to 19 written: the ring of 8 still holds 12…19
    seq.truncate(18);
    expect(seq.length).toBe(18);
    const again = await seq.append(g.tokens.slice(18, 22), 'all');
    for (let t = 0; t < 4; t++) expect(relativeError(again.subarray(t * V, (t + 1) * V), g.logits[18 + t])).toBeLessThan(1e-4);
    // position 10 would read 7…9, long overwritten
    seq.truncate(10);
    expect(seq.length).toBe(0);
    const fresh = await seq.append(g.tokens.slice(0, 11), 'all');
    expect(relativeError(fresh.subarray(10 * V), g.logits[10])).toBeLessThan(1e-4);
    // a failed call of many pieces may have overwritten what the valid tokens need: the sequence drops them
    await expect(seq.append([...g.tokens.slice(11, 20), 400], 'last')).rejects.toThrow(/outside the vocabulary/);
    expect(seq.length).toBe(0);
    sliding.destroy();
  });

  it('the common prefix of the valid tokens and a prompt', async () => {
    const seq = new Sequence(decoder);
    await seq.append([5, 6, 7, 8], 'last');
    expect([[5, 6, 7, 8, 9], [5, 6, 9], [9], [], [5, 6, 7, 8]].map((p) => seq.commonPrefix(p))).toEqual([4, 2, 0, 0, 4]);
    seq.truncate(1);
    expect(seq.commonPrefix([5, 6])).toBe(1);
  });
});
