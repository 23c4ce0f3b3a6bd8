// Plans (buffers and bind groups made for one shape of work) kept per key, oldest dropped first.
import type { Workspace } from './workspace.js';

export class PlanCache<P extends { ws: Workspace }> {
  private readonly plans = new Map<string, P>();

  constructor(private readonly kept: number) {}

  /** The plan of `key`, made by `make` if absent (destroying the oldest when `kept` are held). */
  get(key: string, make: () => P): P {
    const cached = this.plans.get(key);
    if (cached) return cached;
    if (this.plans.size >= this.kept) {
      const [oldest, p] = this.plans.entries().next().value!;
      p.ws.destroy();
      this.plans.delete(oldest);
    }
    const plan = make();
    this.plans.set(key, plan);
    return plan;
  }

  destroy(): void {
    for (const p of this.plans.values()) p.ws.destroy();
    this.plans.clear();
  }
}
