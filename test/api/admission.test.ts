// The admission of calls to the decoder (src/api/admission.ts), without a GPU: calls under one routing
// share it up to the sequences there are, a call needing it alone waits for the others and holds back
// the later ones, entry is first come first served, the best-suited free sequence is taken (least
// recently used of equals), and an abort or close while waiting refuses the call and frees the line.
import { describe, expect, it } from 'vitest';
import { Admission, type Admitted, type Entrant } from '../../src/api/admission.js';
import type { Sequence } from '../../src/model/sequence.js';

/** Stand-ins for sequences: only their identity and score matter here. */
const seqs = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `s${i}` }) as unknown as Sequence);
const nameOf = (s: Sequence) => (s as unknown as { name: string }).name;

function setup(n: number) {
  const log: string[] = [];
  const admission = new Admission(seqs(n), () => log.push('end'));
  const entered: Record<string, Admitted> = {};
  const enter = (name: string, o: Partial<Entrant> = {}) =>
    admission.enter({ exclusive: false, key: 'a', score: () => 0, begin: () => log.push(`begin ${name}`), ...o }).then((a) => {
      entered[name] = a;
      log.push(`${name} ${nameOf(a.seq)}`);
      return a;
    });
  const settle = () => new Promise((r) => setTimeout(r, 0));
  return { admission, log, entered, enter, settle };
}

describe('Admission', () => {
  it('lets calls under one routing share the decoder, one sequence each, and queues the rest', async () => {
    const { admission, log, entered, enter, settle } = setup(2);
    void enter('x');
    void enter('y');
    void enter('z');
    await settle();
    expect(log).toEqual(['begin x', 'x s0', 'y s1']);
    expect(admission.running).toBe(2);
    entered.x.leave();
    entered.x.leave(); // a second leave does nothing
    await settle();
    expect(log).toEqual(['begin x', 'x s0', 'y s1', 'z s0']);
    entered.y.leave();
    entered.z.leave();
    await settle();
    expect(log.at(-1)).toBe('end');
    expect(admission.running).toBe(0);
  });

  it('runs a call that needs the decoder alone by itself, holding back the calls after it', async () => {
    const { log, entered, enter, settle } = setup(3);
    void enter('x');
    void enter('alone', { exclusive: true });
    void enter('y'); // could share with x, but comes after the exclusive call
    await settle();
    expect(log).toEqual(['begin x', 'x s0']);
    entered.x.leave();
    await settle();
    expect(log).toEqual(['begin x', 'x s0', 'end', 'begin alone', 'alone s1']);
    entered.alone.leave();
    await settle();
    expect(log.slice(-3)).toEqual(['end', 'begin y', 'y s2']);
  });

  it('does not batch calls under another routing: they wait for the group to end', async () => {
    const { log, entered, enter, settle } = setup(4);
    void enter('x');
    void enter('other', { key: 'b' });
    void enter('y'); // same routing as x, but after `other`: first come first served
    await settle();
    expect(log).toEqual(['begin x', 'x s0']);
    entered.x.leave();
    await settle();
    expect(log.slice(2)).toEqual(['end', 'begin other', 'other s1']);
  });

  it('takes the free sequence that scores highest, the least recently used of equals', async () => {
    const { entered, enter, settle } = setup(3);
    await enter('a');
    await enter('b');
    entered.b.leave(); // free now: s2, s1 (s1 most recently used)
    const best = await enter('c', { score: (s) => (nameOf(s) === 's1' ? 5 : 0) });
    expect(nameOf(best.seq)).toBe('s1');
    best.leave(); // free: s2, s1
    const lru = await enter('d');
    expect(nameOf(lru.seq)).toBe('s2');
    await settle();
  });

  it('refuses a waiting call whose signal aborts, and lets the ones behind it in', async () => {
    const { log, entered, enter, settle } = setup(1);
    void enter('x');
    const abort = new AbortController();
    const waiting = enter('alone', { exclusive: true, signal: abort.signal });
    void enter('y');
    await settle();
    abort.abort(new Error('gone'));
    await expect(waiting).rejects.toThrow('gone');
    entered.x.leave();
    await settle();
    expect(log).toEqual(['begin x', 'x s0', 'end', 'begin y', 'y s0']);
    await expect(enter('late', { signal: abort.signal })).rejects.toThrow('gone');
  });

  it('refuses a call whose begin() throws, without holding anything', async () => {
    const { admission, enter, settle } = setup(1);
    await expect(enter('bad', { begin: () => {
      throw new RangeError('bad mask');
    } })).rejects.toThrow('bad mask');
    expect(admission.running).toBe(0);
    (await enter('next')).leave();
    await settle();
  });

  it('close() refuses the calls waiting and every later one', async () => {
    const { admission, enter, settle } = setup(1);
    await enter('x');
    const waiting = enter('y');
    await settle();
    admission.close(new Error('disposed'));
    await expect(waiting).rejects.toThrow('disposed');
    await expect(enter('z')).rejects.toThrow('disposed');
  });
});
