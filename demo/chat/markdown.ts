// A reply's markdown as HTML: marked (GitHub-flavoured, line breaks kept) and then DOMPurify, so a
// model's output can never inject script or markup into the page.
import DOMPurify from 'dompurify';
import { marked } from 'marked';

export function markdownHtml(text: string): string {
  const html = marked.parse(text, { async: false, gfm: true, breaks: true });
  return DOMPurify.sanitize(html, { USE_PROFILES: { html: true } });
}
