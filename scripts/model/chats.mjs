// Renders the novels' conversations with the bundled model's chat template and encodes them, for
// the chat fine-tune: the same template (@huggingface/jinja) and tokenizer (@huggingface/tokenizers)
// webmoe uses, so the fine-tune sees exactly the ids chat.completions will send.
// Usage: node scripts/model/chats.mjs CORPUS_DIR MODEL_DIR
// Reads CORPUS_DIR/{train,val}_chats.json (from dialogue.py) and MODEL_DIR's tokenizer files and
// chat_template.jinja; writes CORPUS_DIR/{train,val}_chat.bin (uint16 ids, the conversations one
// after another, each from its BOS) and {train,val}_chat_starts.bin (uint32: where each begins).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';

// A third of the conversations have no system message, the others one of these (the chat page's
// default is the last), so a system prompt is familiar but not required.
const SYSTEMS = [undefined, 'A conversation in the manner of Jane Austen.', 'You are a character in a novel by Jane Austen.'];

const [corpusDir, modelDir] = process.argv.slice(2);
if (!corpusDir || !modelDir) throw new Error('usage: node scripts/model/chats.mjs CORPUS_DIR MODEL_DIR');
const json = (name) => JSON.parse(readFileSync(join(modelDir, name), 'utf8'));
const config = json('tokenizer_config.json');
const tok = new Tokenizer(json('tokenizer.json'), config);
const template = new Template(readFileSync(join(modelDir, 'chat_template.jinja'), 'utf8'));

for (const split of ['train', 'val']) {
  const chats = JSON.parse(readFileSync(join(corpusDir, `${split}_chats.json`), 'utf8'));
  const ids = [];
  const starts = [];
  chats.forEach((turns, i) => {
    const system = SYSTEMS[i % SYSTEMS.length];
    const messages = turns.map((content, t) => ({ role: t % 2 ? 'assistant' : 'user', content }));
    if (system) messages.unshift({ role: 'system', content: system });
    const text = template.render({ bos_token: config.bos_token, eos_token: config.eos_token, messages, add_generation_prompt: false });
    starts.push(ids.length);
    // As apply_chat_template: the template writes the BOS itself.
    for (const id of tok.encode(text, { add_special_tokens: false }).ids) ids.push(id);
  });
  writeFileSync(join(corpusDir, `${split}_chat.bin`), new Uint16Array(ids));
  writeFileSync(join(corpusDir, `${split}_chat_starts.bin`), new Uint32Array(starts));
  console.log(`${split}: ${chats.length} conversations, ${ids.length} tokens`);
}
