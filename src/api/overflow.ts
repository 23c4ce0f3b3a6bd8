// What a prompt longer than the context gets: by default a named error; with `contextOverflow:
// 'slide'`, a conversation loses its oldest turns (a user message and the replies after it), its
// leading system messages and its last turn always kept. Never a silent cut of tokens.
import type { ChatMessage } from '../model/tokenizer.js';

export class ContextOverflowError extends RangeError {
  override name = 'ContextOverflowError';

  constructor(readonly promptTokens: number, readonly contextLength: number, hint: string) {
    super(`webmoe: the prompt has ${promptTokens} tokens, the context holds ${contextLength}: ${hint}`);
  }
}

/** How to handle a prompt that does not fit: 'error' (default) or 'slide' (conversations only). */
export type ContextOverflow = 'error' | 'slide';

/**
 * `messages` less their oldest turns, as few as make `fits` true of the rendered ids (or all but the
 * system messages and the last turn), and the ids; `dropped`: how many messages went.
 */
export function slideTurns(messages: ChatMessage[], encode: (m: ChatMessage[]) => number[], fits: (tokens: number) => boolean): {
  messages: ChatMessage[];
  ids: number[];
  dropped: number;
} {
  let start = 0;
  while (start < messages.length && (messages[start].role === 'system' || messages[start].role === 'developer')) start++;
  const system = messages.slice(0, start);
  let rest = messages.slice(start);
  let ids = encode(messages);
  for (;;) {
    if (fits(ids.length)) break;
    // The next turn starts at the next user message after the first one.
    const next = rest.findIndex((m, i) => i > 0 && m.role === 'user');
    if (next < 0) break;
    rest = rest.slice(next);
    ids = encode([...system, ...rest]);
  }
  return { messages: [...system, ...rest], ids, dropped: messages.length - system.length - rest.length };
}
