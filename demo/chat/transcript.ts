// The conversation as role="log": chat bubbles. The user's messages are shown as typed (whatever
// their length); a reply streams in as markdown, rendered (sanitised) at most once a frame.
import { markdownHtml } from './markdown.js';

export class Transcript {
  constructor(private readonly log: HTMLElement) {}

  addUser(text: string): void {
    this.bubble('user', 'You').textContent = text;
  }

  startReply(model: string): Reply {
    return new Reply(this.bubble('assistant', model), this.log);
  }

  clear(): void {
    this.log.replaceChildren();
  }

  get empty(): boolean {
    return this.log.childElementCount === 0;
  }

  private bubble(role: string, who: string): HTMLElement {
    const el = document.createElement('article');
    el.className = `message ${role}`;
    const name = document.createElement('h3');
    name.textContent = who;
    const body = document.createElement('div');
    body.className = 'body';
    el.append(name, body);
    this.log.append(el);
    this.log.scrollTop = this.log.scrollHeight;
    return body;
  }
}

export class Reply {
  private markdown = '';
  private pending = false;

  constructor(private readonly body: HTMLElement, private readonly log: HTMLElement) {
    body.classList.add('typing');
  }

  add(text: string): void {
    if (!text) return;
    this.markdown += text;
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => this.render());
  }

  /** The reply's text as generated (the markdown source). */
  text(): string {
    return this.markdown;
  }

  /** Renders what is there now and ends the typing indicator. */
  finish(): void {
    this.render();
    this.body.classList.remove('typing');
  }

  note(text: string): void {
    const el = document.createElement('small');
    el.className = 'note';
    el.textContent = text;
    this.body.after(el);
  }

  private render(): void {
    this.pending = false;
    const atBottom = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 40;
    this.body.innerHTML = markdownHtml(this.markdown);
    if (atBottom) this.log.scrollTop = this.log.scrollHeight;
  }
}
