// One status line per page: progress and results as role="status", failures as role="alert", so a
// screen reader (and a test) hears both and nothing ever fails silently.
export type StatusKind = 'info' | 'error';

export function setStatus(el: HTMLElement, message: string, kind: StatusKind = 'info'): void {
  el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  el.dataset.kind = kind;
  el.textContent = message;
}

/** The message of anything thrown, in plain words: no error class name, no "webmoe: " prefix. */
export function errorText(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.replace(/^webmoe: /, '');
}

export const isAbort = (e: unknown): boolean => e instanceof DOMException && e.name === 'AbortError';

export function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0);
}

export function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}
