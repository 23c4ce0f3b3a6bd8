// One status line per page: progress and results as role="status", failures as role="alert", so a
// screen reader (and a test) hears both and nothing ever fails silently.
export type StatusKind = 'info' | 'error';

export function setStatus(el: HTMLElement, message: string, kind: StatusKind = 'info'): void {
  el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  el.dataset.kind = kind;
  el.textContent = message;
}

/** The message of anything thrown, with its name when that says more (ModelLoadError: …). */
export function errorText(e: unknown): string {
  if (e instanceof Error) {
    const named = e.name && e.name !== 'Error' && !e.message.startsWith(e.name) ? `${e.name}: ` : '';
    return `${named}${e.message}`;
  }
  return String(e);
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
