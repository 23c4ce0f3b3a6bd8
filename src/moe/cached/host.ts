// The host tier: experts' stored bytes (the GPU format, packed as they were at load or on a fetch)
// under a byte budget, the least recently used given up first. A miss found here is an upload only;
// one not found is read from the model source again.
import type { PackedExpert } from './packed.js';

export class HostTier {
  /** in order of use, the oldest first */
  private readonly held = new Map<number, PackedExpert>();
  private bytes = 0;

  constructor(readonly budget: number) {}

  get(key: number): PackedExpert | undefined {
    const p = this.held.get(key);
    if (p) {
      this.held.delete(key);
      this.held.set(key, p);
    }
    return p;
  }

  /** Keeps `p` if it fits the budget at all, giving up the oldest as needed. */
  put(key: number, p: PackedExpert): void {
    if (p.bytes > this.budget || this.held.has(key)) return;
    for (const [k, old] of this.held) {
      if (this.bytes + p.bytes <= this.budget) break;
      this.held.delete(k);
      this.bytes -= old.bytes;
    }
    this.held.set(key, p);
    this.bytes += p.bytes;
  }
}
