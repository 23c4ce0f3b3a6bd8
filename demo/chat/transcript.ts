// The conversation as role="log": user messages, and replies built from token spans. Each span is the
// text one generated token's chunk added; hovering or focusing it reports the token's position.
export class Transcript {
  constructor(private readonly log: HTMLElement, onToken: (position: number, span: HTMLElement) => void) {
    const pick = (e: Event) => {
      const span = (e.target as HTMLElement).closest<HTMLElement>('.token');
      if (span) onToken(Number(span.dataset.position), span);
    };
    log.addEventListener('mouseover', pick);
    log.addEventListener('focusin', pick);
  }

  addUser(text: string): void {
    this.message('user', 'You').append(text);
  }

  startReply(model: string): Reply {
    return new Reply(this.message('assistant', model), this.log);
  }

  clear(): void {
    this.log.replaceChildren();
  }

  private message(role: string, who: string): HTMLElement {
    const el = document.createElement('article');
    el.className = `message ${role}`;
    const name = document.createElement('h3');
    name.textContent = who;
    const body = document.createElement('p');
    el.append(name, body);
    this.log.append(el);
    return body;
  }
}

export class Reply {
  private last?: HTMLElement;

  constructor(private readonly body: HTMLElement, private readonly log: HTMLElement) {}

  /** Adds a generated token's text; text that arrives without a token joins the last span. */
  add(text: string, position: number | undefined): void {
    if (position === undefined) {
      if (!text) return;
      (this.last ?? this.body).append(text);
    } else {
      const span = document.createElement('span');
      span.className = 'token';
      span.tabIndex = 0;
      span.dataset.position = String(position);
      span.textContent = text;
      this.body.append(span);
      this.last = span;
    }
    this.log.scrollTop = this.log.scrollHeight;
  }

  text(): string {
    return this.body.textContent ?? '';
  }

  note(text: string): void {
    const el = document.createElement('small');
    el.className = 'note';
    el.textContent = text;
    this.body.after(el);
  }
}
