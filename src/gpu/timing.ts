// GPU timing by wall clock around submit → onSubmittedWorkDone: portable to every adapter (timestamp
// queries are optional), and the regions timed here are long next to the submit overhead; and the
// quantiles the benchmarks report of such times.

/** Median milliseconds of `runs` submissions of `encode` after one warm-up. */
export async function medianMs(device: GPUDevice, encode: (enc: GPUCommandEncoder) => void, runs: number): Promise<number> {
  const once = async () => {
    const enc = device.createCommandEncoder();
    encode(enc);
    const t0 = performance.now();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    return performance.now() - t0;
  };
  await once();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push(await once());
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/** Uniform values in ±scale from a seed (xorshift): fast for hundreds of MB, never all zero. */
export function randomArray(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296 * 2 - 1) * scale;
  }
  return out;
}

/** Median milliseconds of `runs` calls of `once` (each resolving when its GPU work is done), after one warm-up. */
export async function medianWallMs(once: () => Promise<void>, runs: number): Promise<number> {
  await once();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await once();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/** The p-quantile (0…1) of `xs`, the nearest rank (NaNs left out). */
export function quantile(xs: number[], p: number): number {
  const sorted = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] : NaN;
}
