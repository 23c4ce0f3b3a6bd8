// A view redrawn at most once an animation frame while tokens stream in.
export abstract class FrameDrawn<T> {
  private pending = false;

  /** Draws `x` on the next animation frame (streaming calls it per token). */
  schedule(x: T): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw(x);
    });
  }

  abstract draw(x: T): void;
}
