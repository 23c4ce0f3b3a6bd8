// The expert-load heatmap: a table, one row per MoE layer, one cell per expert, shaded by the share
// of that layer's tokens the expert received, and the layer's imbalance (max/mean and coefficient of
// variation of the loads, as the engine's routing stats); redrawn (at most once a frame) as tokens stream.
import { FrameDrawn } from './frameDrawn.js';
import type { RoutingLog } from './routing.js';

export class Heatmap extends FrameDrawn<RoutingLog> {
  /** With an expert cache: per layer, the experts on the GPU at the end of the reply (outlined). */
  resident?: Map<number, Set<number>>;

  constructor(private readonly table: HTMLTableElement) {
    super();
  }

  draw(log: RoutingLog): void {
    const head = `<tr><th scope="col">layer</th>${Array.from({ length: log.experts }, (_, e) => `<th scope="col">e${e}</th>`).join('')}` +
      `<th scope="col" title="the largest load over the mean load">max/<br>mean</th><th scope="col" title="the loads' standard deviation over their mean">CV</th></tr>`;
    const rows = [...log.load].sort(([a], [b]) => a - b).map(([layer, counts]) => {
      const total = counts.reduce((a, b) => a + b, 0) || 1;
      const cells = counts.map((n, e) => {
        const share = n / total;
        const onGpu = this.resident?.get(layer)?.has(e);
        return `<td style="--share:${share.toFixed(3)}"${onGpu ? ' class="resident"' : ''} title="layer ${layer}, expert ${e}: ${n} tokens (${
          (100 * share).toFixed(0)
        }%)${onGpu ? ', on the GPU' : ''}">${n}</td>`;
      });
      const mean = total / counts.length;
      const cv = Math.sqrt(counts.reduce((a, n) => a + (n - mean) ** 2, 0) / counts.length) / mean;
      const imbalance = `<td class="figure">${(Math.max(...counts) / mean).toFixed(2)}</td><td class="figure">${cv.toFixed(2)}</td>`;
      return `<tr><th scope="row">${layer}</th>${cells.join('')}${imbalance}</tr>`;
    });
    const note = this.resident ? '; outlined: the experts the expert cache holds on the GPU' : '';
    this.table.innerHTML = `<caption>Tokens routed to each expert, per layer (this reply)${note}</caption><thead>${head}</thead><tbody>${
      rows.join('')
    }</tbody>`;
  }

  clear(): void {
    this.resident = undefined;
    this.table.innerHTML = '';
  }
}
