// The expert cache's eviction policies and host tier, on the host: LRU gives up the slot used longest
// ago, LFU the least used (uses fading with time), never a pinned slot; the host tier keeps within its
// budget, giving up the least recently used.
import { describe, expect, it } from 'vitest';
import { HostTier } from '../../../src/moe/cached/host.js';
import { PackedExpert, packedShape } from '../../../src/moe/cached/packed.js';
import { SlotPolicy } from '../../../src/moe/cached/policy.js';

describe('slot policies', () => {
  it('LRU: the slot used longest ago, pinned ones skipped', () => {
    const p = new SlotPolicy('lru', 3);
    for (const s of [0, 1, 2, 0, 0, 0, 1]) p.use(s);
    expect(p.victim(new Set())).toBe(2);
    expect(p.victim(new Set([2]))).toBe(0);
    expect(p.victim(new Set([0, 1, 2]))).toBe(-1);
  });

  it('LFU: the least used, a fresh expert starting over, old uses fading', () => {
    const p = new SlotPolicy('lfu', 3);
    for (const s of [0, 0, 0, 0, 1, 1, 2]) p.use(s);
    expect(p.victim(new Set())).toBe(2); // used once, most recently: LRU would give up 0
    p.use(0, true); // slot 0 takes a new expert: its count starts over
    expect(p.victim(new Set([2]))).toBe(0);
    // Slot 0's five uses long ago have faded below slot 1's one recent use (without decay: 5 > 1).
    const q = new SlotPolicy('lfu', 3);
    for (let i = 0; i < 5; i++) q.use(0);
    for (let i = 0; i < 300; i++) q.use(2);
    q.use(1, true);
    expect(q.victim(new Set([2]))).toBe(0);
  });
});

describe('host tier', () => {
  it('keeps within its budget, the least recently used given up first', () => {
    const shape = packedShape(32, 32, 'f32');
    const one = new PackedExpert(shape).bytes;
    const host = new HostTier(2 * one);
    const [a, b, c] = [0, 1, 2].map(() => new PackedExpert(shape));
    host.put(0, a);
    host.put(1, b);
    expect(host.get(0)).toBe(a); // 1 is now the oldest
    host.put(2, c);
    expect(host.get(1)).toBeUndefined();
    expect(host.get(0)).toBe(a);
    expect(host.get(2)).toBe(c);
    new HostTier(one - 1).put(0, a); // too big for the budget at all: not kept, nothing given up
  });
});
