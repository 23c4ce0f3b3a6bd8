// The benchmark page's words: each ratio read with its direction, and the copyable text summary.
import { describe, expect, it } from 'vitest';
import { benchRatios, type BenchRecord } from '../../src/bench/cases.js';
import { benchReport } from '../../src/bench/report.js';
import { faster, ratioReading } from '../../demo/bench/ratios.js';
import { browserName, summary } from '../../demo/bench/summary.js';

const rec = (name: string, shape: string, ms: number): BenchRecord => ({ name, shape, ms, gflops: 2, gbps: 3, error: 1e-7 });
const moe1 = 'T=1 H=512 I=192 E=32 k=4';
const records = [
  rec('copy', '16 MiB', 1),
  rec('gemm', '256x256x256', 2),
  rec('gemv', '1x512x2048', 3),
  rec('moe', moe1, 4),
  rec('moe-dense', 'T=1 H=512 I=192 E=32 k=32', 12),
  rec('peer:tfjs-webgpu gemm', '256x256x256', 1),
  rec('peer:ort-webgpu gemm', '256x256x256', 5),
  rec('peer:ort-webgpu qmoe', moe1, 10),
];

describe('benchmark page ratios', () => {
  it('says which side is faster and by how much', () => {
    expect(faster('webmoe', 'x', 2)).toBe('webmoe 2.00× faster than x');
    expect(faster('webmoe', 'x', 0.25)).toBe('webmoe 4.00× slower than x');
    expect(faster('webmoe', 'x', 31.4)).toBe('webmoe 31.4× faster than x');
  });

  it('reads every ratio the report holds, in its direction', () => {
    const read = Object.fromEntries(Object.entries(benchRatios(records)).map(([k, v]) => [k, ratioReading(k, v)]));
    expect(read).toEqual({
      'moe T=1: dense time / sparse time': 'sparse 3.00× faster than dense',
      'moe T=1: GFLOP/s / dense GEMM 256x256x256 GFLOP/s': '100% of the dense GEMM 256x256x256\'s compute rate (higher is better)',
      'moe T=1: time / weight-bandwidth floor': '1.00× the time to read its experts\' weights at copy bandwidth (1 is the floor; lower is better)',
      'gemm 256x256x256: webmoe time / best peer time (tfjs-webgpu)': 'webmoe 2.00× slower than tfjs-webgpu',
      'moe T=1: webmoe time / best peer time (ort-webgpu)': 'webmoe 2.50× faster than ort-webgpu',
      'moe T=1: ort-webgpu qmoe time / webmoe time': 'webmoe 2.50× faster than ort-webgpu qmoe',
    });
    expect(ratioReading('something new', 1)).toBe('');
  });
});

describe('benchmark page summary', () => {
  it('names the browser of a user agent', () => {
    expect(browserName('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36')).toBe('Chrome 156');
    expect(browserName('Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/140.0.0.0 Safari/537.36 Edg/140.0.0.0')).toBe('Edge 140');
    expect(browserName('Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.0 Safari/605.1.15')).toBe('Safari 26');
    expect(browserName('Mozilla/5.0 (X11; Linux x86_64; rv:145.0) Gecko/20100101 Firefox/145.0')).toBe('Firefox 145');
  });

  it('puts webmoe against each peer per shape, then the model', () => {
    const report = benchReport('nvidia / ampere', { dtype: 'q4', quick: true }, records, {
      model: {
        model: 'http://localhost/models/austen-moe/',
        dtype: 'q4',
        promptTokens: 32,
        generatedTokens: 8,
        prefillTokensPerSecond: 120.04,
        decodeTokensPerSecond: 40.01,
        timeToFirstTokenMs: 80.4,
        activeBytesPerToken: 1e6,
        loadSeconds: 1,
      },
      environment: { userAgent: 'Mozilla/5.0 (X11) Chrome/156.0.0.0 Safari/537.36' },
    });
    report.date = '2026-11-30T16:00:00.000Z';
    expect(summary(report)).toBe([
      'webmoe bench, 2026-11-30: nvidia / ampere, Chrome 156; q4 weights, quick shapes, 1 run',
      'copy 16 MiB: 3.0 GB/s',
      'gemm 256x256x256: webmoe 2.000 ms, tfjs-webgpu 1.000 ms, ort-webgpu 5.000 ms → webmoe 2.00× slower than tfjs-webgpu',
      'gemv 1x512x2048: webmoe 3.000 ms',
      `moe ${moe1}: webmoe 4.000 ms, ort-webgpu 10.0 ms → webmoe 2.50× faster than ort-webgpu; dense block 12.0 ms (sparse 3.00× faster than dense)`,
      'austen-moe (q4): prefill 120.0 tok/s, decode 40.0 tok/s, first token 80 ms',
    ].join('\n'));
  });
});
