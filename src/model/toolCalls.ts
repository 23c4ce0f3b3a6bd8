// Tool calls in a model's raw output (special tokens written out), in the syntax its chat template
// teaches: Qwen's <tool_call> JSON blocks (Hermes style), DeepSeek-V3's <｜tool▁call▁begin｜> ones,
// and gpt-oss's harmony messages addressed `to=functions.NAME`. The template tells which.

export type ToolCallFormat = 'hermes' | 'deepseek' | 'harmony';

export interface ParsedToolCall {
  name: string;
  /** the arguments as JSON text */
  arguments: string;
}

/** The syntax a chat template writes tool calls in, or none (the template defines no tool calls). */
export function toolCallFormat(template: string | undefined): ToolCallFormat | undefined {
  if (template === undefined) return undefined;
  if (template.includes('<tool_call>')) return 'hermes';
  if (template.includes('tool▁call▁begin')) return 'deepseek';
  if (template.includes('to=functions.')) return 'harmony';
  return undefined;
}

const json = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The calls in `text` and the content around them. A block that does not parse (its JSON is cut or
 * broken) is no call: it stays in the content, so nothing the model wrote is lost.
 */
export function parseToolCalls(format: ToolCallFormat, text: string): { content: string; calls: ParsedToolCall[] } {
  const calls: ParsedToolCall[] = [];
  switch (format) {
    case 'hermes': {
      // <tool_call>\n{"name": …, "arguments": {…}}\n</tool_call>, any number; the last may be cut by EOS.
      const content = text.replace(/<tool_call>([\s\S]*?)(?:<\/tool_call>|$)/g, (block, body: string) => {
        const call = json(body.trim());
        if (!isObject(call) || typeof call.name !== 'string' || !isObject(call.arguments ?? {})) return block;
        calls.push({ name: call.name, arguments: JSON.stringify(call.arguments ?? {}) });
        return '';
      });
      return { content: content.trim(), calls };
    }
    case 'deepseek': {
      // <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\nARGS\n```<｜tool▁call▁end｜>…<｜tool▁calls▁end｜>
      const start = text.indexOf('<｜tool▁calls▁begin｜>');
      if (start < 0) return { content: text, calls };
      const block = text.slice(start);
      const re = /<｜tool▁call▁begin｜>\w+<｜tool▁sep｜>([^\n]+)\n```json\n([\s\S]*?)\n```(?:<｜tool▁call▁end｜>|$)/g;
      for (const [, name, args] of block.matchAll(re)) {
        if (!isObject(json(args))) return { content: text, calls: [] };
        calls.push({ name: name.trim(), arguments: args });
      }
      return calls.length ? { content: text.slice(0, start).trim(), calls } : { content: text, calls };
    }
    case 'harmony': {
      // Messages <|channel|>C[ to=functions.NAME][ <|constrain|>json]<|message|>BODY, each ended by
      // <|end|>, <|call|> or <|return|> (the recipient may also stand before <|channel|>). The
      // content is the final channel's message; the analysis channel is the model's reasoning.
      let content = '';
      let messages = 0;
      const re =
        /(?:to=functions\.([\w.-]+)\s*)?<\|channel\|>(\w+)(?:\s+to=functions\.([\w.-]+))?[^<]*(?:<\|constrain\|>\w+)?<\|message\|>([\s\S]*?)(?=<\|end\|>|<\|call\|>|<\|return\|>|<\|start\|>|$)/g;
      for (const [, before, channel, after, body] of text.matchAll(re)) {
        messages++;
        const name = before ?? after;
        if (name !== undefined && isObject(json(body.trim()))) calls.push({ name, arguments: body.trim() });
        else if (channel === 'final') content += body;
      }
      return { content: messages ? content.trim() : text, calls };
    }
  }
}
