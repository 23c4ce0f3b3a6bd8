// The load progress bar: megabytes done of the total, the rate and the time left, per phase
// (downloading into the cache, then uploading to the GPU).
import { mb } from '../common/status.js';

function duration(s: number): string {
  if (!Number.isFinite(s)) return '…';
  return s < 60 ? `${Math.ceil(s)} s` : `${Math.floor(s / 60)} min ${Math.ceil(s % 60)} s`;
}

export class ProgressView {
  private phase = '';
  private t0 = 0;
  private bytes0 = 0;

  constructor(private readonly bar: HTMLProgressElement, private readonly label: HTMLElement) {}

  update(phase: string, loaded: number, total: number | undefined): void {
    const now = performance.now();
    if (phase !== this.phase) {
      this.phase = phase;
      this.t0 = now;
      this.bytes0 = loaded;
    }
    const seconds = (now - this.t0) / 1000;
    const rate = seconds > 0.2 ? (loaded - this.bytes0) / seconds : 0;
    if (total) this.bar.value = loaded / total;
    else this.bar.removeAttribute('value');
    const eta = total && rate > 0 ? `, ETA ${duration((total - loaded) / rate)}` : '';
    const speed = rate > 0 ? `, ${mb(rate)} MB/s` : '';
    this.label.textContent = `${phase}: ${mb(loaded)}${total ? ` / ${mb(total)}` : ''} MB${speed}${eta}`;
  }

  done(text: string): void {
    this.phase = '';
    this.bar.value = 1;
    this.label.textContent = text;
  }

  reset(): void {
    this.phase = '';
    this.bar.value = 0;
    this.label.textContent = '';
  }
}
