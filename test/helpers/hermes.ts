// A model folder with a short Hermes-style chat template (as Qwen's: tools in the system turn,
// <tool_call> JSON in assistant turns, <tool_response> in tool turns) in place of its own. Qwen3's own
// template, with its tool preamble, outgrows the fixtures' 512 positions.
import { nodeDirSource } from '../../src/io/nodeSource.js';
import type { ModelSource } from '../../src/io/source.js';

const TEMPLATE = '{%- if tools %}<|im_start|>system\n<tools>{% for t in tools %}{{ t.function.name }};{% endfor %}</tools><|im_end|>\n{% endif %}'
  + '{%- for m in messages %}<|im_start|>{{ m.role }}\n{% if m.role == \'tool\' %}<tool_response>\n{{ m.content }}\n</tool_response>'
  + '{% else %}{{ m.content }}{% if m.tool_calls %}{% for c in m.tool_calls %}<tool_call>\n'
  + '{{ {\'name\': c.function.name, \'arguments\': c.function.arguments} | tojson }}\n</tool_call>{% endfor %}{% endif %}{% endif %}<|im_end|>\n{% endfor %}'
  + '{%- if add_generation_prompt %}<|im_start|>assistant\n{% endif %}';

export function hermesSource(dir: string): ModelSource {
  const base = nodeDirSource(dir);
  return { name: base.name, open: (f, s) => base.open(f, s), text: (f, s) => (f === 'chat_template.jinja' ? Promise.resolve(TEMPLATE) : base.text(f, s)) };
}
