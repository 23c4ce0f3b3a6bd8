// The bundled model's tokenizer from the command line, for the Python scripts (which have none):
//   node scripts/model/tokens.mjs MODEL_DIR encode TEXT   → JSON ids, with the BOS
//   node scripts/model/tokens.mjs MODEL_DIR decode 1,2,3  → JSON string
//   node scripts/model/tokens.mjs MODEL_DIR chat MESSAGES_JSON → JSON ids of the chat template's
//     rendering with the generation prompt (as apply_chat_template: the template writes the BOS)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';

const [dir, op, arg] = process.argv.slice(2);
const json = (name) => JSON.parse(readFileSync(join(dir, name), 'utf8'));
const config = json('tokenizer_config.json');
const tok = new Tokenizer(json('tokenizer.json'), config);
if (op === 'encode') console.log(JSON.stringify(tok.encode(arg).ids));
else if (op === 'chat') {
  const template = new Template(readFileSync(join(dir, 'chat_template.jinja'), 'utf8'));
  const text = template.render({ bos_token: config.bos_token, eos_token: config.eos_token, messages: JSON.parse(arg), add_generation_prompt: true });
  console.log(JSON.stringify(tok.encode(text, { add_special_tokens: false }).ids));
} else if (op === 'decode') console.log(JSON.stringify(tok.decode(arg.split(',').map(Number))));
else throw new Error('usage: node scripts/model/tokens.mjs MODEL_DIR encode TEXT | decode IDS | chat MESSAGES_JSON');
