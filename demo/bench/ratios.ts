// What a ratio of the report says, in words: which way is better, and by how much. The report's keys
// are `webmoe bench`'s (src/bench/cases.ts benchRatios, src/bench/qmoe.ts moePeerRatios); this page
// only reads them.

/** "A 2.0× faster than B" or "A 3.1× slower than B", from B's time over A's. */
export function faster(a: string, b: string, bOverA: number): string {
  return bOverA >= 1 ? `${a} ${times(bOverA)} faster than ${b}` : `${a} ${times(1 / bOverA)} slower than ${b}`;
}

const times = (v: number) => `${v < 10 ? v.toFixed(2) : v.toPrecision(3)}×`;

/** The sentence for ratio `key` at `value`, or '' for a key this page does not know. */
export function ratioReading(key: string, value: number): string {
  let m: RegExpMatchArray | null;
  if (key.endsWith(': dense time / sparse time')) return faster('sparse', 'dense', value);
  if ((m = key.match(/: webmoe time \/ best peer time \((.+)\)$/))) return faster('webmoe', m[1], 1 / value);
  if ((m = key.match(/: (.+) time \/ webmoe time$/))) return faster('webmoe', m[1], value);
  if (key.endsWith(': time / weight-bandwidth floor')) {
    return `${times(value)} the time to read its experts' weights at copy bandwidth (1 is the floor; lower is better)`;
  }
  if ((m = key.match(/: GFLOP\/s \/ (dense GEMM .+) GFLOP\/s$/))) return `${(value * 100).toFixed(0)}% of the ${m[1]}'s compute rate (higher is better)`;
  return '';
}
