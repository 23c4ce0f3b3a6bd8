// The routing view's token strip: the reply's tokens, each coloured by the expert its chosen layer
// gave the most weight, with a legend of those experts and their share of the reply's tokens, and
// what each expert fires on: the tokens it weighted most in that layer over the conversation.
// Hovering or focusing a token reports it (its experts in every layer go to the page's token info).
import { FrameDrawn } from './frameDrawn.js';
import type { RoutingLog } from './routing.js';

/** A colour per expert: hues a golden angle apart, so neighbours differ however many experts there are. */
export const expertColour = (e: number): string => `hsl(${(e * 137.508) % 360} 70% 55%)`;

export class TokenStrip extends FrameDrawn<RoutingLog> {
  private tokens: { text: string; position: number }[] = [];
  /** the routing of the reply drawn last, and per layer, expert and token text the weights of the conversation's earlier replies */
  private log?: RoutingLog;
  private earlier = new Map<number, Map<number, Map<string, number>>>();

  constructor(
    private readonly strip: HTMLElement,
    private readonly legend: HTMLElement,
    private readonly layerSelect: HTMLSelectElement,
    private readonly fires: HTMLElement,
    onToken: (position: number, span: HTMLElement) => void,
  ) {
    super();
    const pick = (e: Event) => {
      const span = (e.target as HTMLElement).closest<HTMLElement>('.token');
      if (span) onToken(Number(span.dataset.position), span);
    };
    strip.addEventListener('mouseover', pick);
    strip.addEventListener('focusin', pick);
  }

  /** A generated token's text at `position`. */
  add(text: string, position: number): void {
    this.tokens.push({ text, position });
  }

  /** A new conversation: forgets the earlier replies too. */
  forget(): void {
    this.earlier.clear();
    this.log = undefined;
    this.clear();
  }

  /** A new reply: the last one's weights join the earlier replies'. */
  clear(): void {
    const log = this.log;
    if (log) { for (const layer of log.load.keys()) this.earlier.set(layer, this.weights(log, layer, this.earlier.get(layer) ?? new Map())); }
    this.log = undefined;
    this.tokens = [];
    this.strip.replaceChildren();
    this.legend.replaceChildren();
    this.fires.replaceChildren();
  }

  draw(log: RoutingLog): void {
    this.offerLayers([...log.load.keys()].sort((a, b) => a - b));
    const layer = Number(this.layerSelect.value);
    this.log = log;
    const counts = new Map<number, number>();
    const weightOf = this.weights(log, layer, structuredClone(this.earlier.get(layer) ?? new Map<number, Map<string, number>>()));
    this.strip.replaceChildren(...this.tokens.map(({ text, position }) => {
      const span = document.createElement('span');
      span.className = 'token';
      span.tabIndex = 0;
      span.dataset.position = String(position);
      span.textContent = text.replace(/\n/g, '↵'); // a line break shows as a token of its own
      const routed = log.at(position)?.find((l) => l.layer === layer);
      const top = routed?.ids[routed.weights.indexOf(Math.max(...routed.weights))];
      if (top === undefined) span.classList.add('unrouted');
      else {
        span.style.setProperty('--expert', expertColour(top));
        span.dataset.expert = String(top);
        counts.set(top, (counts.get(top) ?? 0) + 1);
      }
      return span;
    }));
    const total = [...counts.values()].reduce((a, b) => a + b, 0) || 1;
    this.legend.replaceChildren(...[...counts].sort(([a], [b]) => a - b).map(([e, n]) => {
      const item = document.createElement('li');
      item.style.setProperty('--expert', expertColour(e));
      item.textContent = `e${e} · ${Math.round((100 * n) / total)}%`;
      item.title = `expert ${e} is the top expert of ${n} of these tokens in layer ${layer}`;
      return item;
    }));
    this.fires.replaceChildren(...[...weightOf].sort(([a], [b]) => a - b).map(([e, texts]) => {
      const item = document.createElement('li');
      item.style.setProperty('--expert', expertColour(e));
      const most = [...texts].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([t]) => `“${t}”`);
      item.textContent = `e${e}: ${most.join(' ')}`;
      return item;
    }));
  }

  /** Adds to `into` (per expert, token text → weight) the weights layer `layer` gave this reply's tokens. */
  private weights(log: RoutingLog, layer: number, into: Map<number, Map<string, number>>): Map<number, Map<string, number>> {
    for (const { text, position } of this.tokens) {
      const routed = log.at(position)?.find((l) => l.layer === layer);
      const key = text.trim() || text;
      routed?.ids.forEach((e, i) => {
        const texts = into.get(e) ?? new Map<string, number>();
        texts.set(key, (texts.get(key) ?? 0) + routed.weights[i]);
        into.set(e, texts);
      });
    }
    return into;
  }

  /** The MoE layers the trace reports (a dense layer has no routing), keeping the chosen one. */
  private offerLayers(layers: number[]): void {
    const have = Array.from(this.layerSelect.options, (o) => Number(o.value));
    if (have.join() === layers.join()) return;
    const chosen = this.layerSelect.value;
    this.layerSelect.replaceChildren(...layers.map((l) => new Option(`layer ${l}`, String(l))));
    if (layers.map(String).includes(chosen)) this.layerSelect.value = chosen;
  }
}
