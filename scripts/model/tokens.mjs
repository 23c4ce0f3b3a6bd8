// The bundled model's tokenizer from the command line, for the Python scripts (which have none):
//   node scripts/model/tokens.mjs MODEL_DIR encode TEXT   → JSON ids, with the BOS
//   node scripts/model/tokens.mjs MODEL_DIR decode 1,2,3  → JSON string
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';

const [dir, op, arg] = process.argv.slice(2);
const json = (name) => JSON.parse(readFileSync(join(dir, name), 'utf8'));
const tok = new Tokenizer(json('tokenizer.json'), json('tokenizer_config.json'));
if (op === 'encode') console.log(JSON.stringify(tok.encode(arg).ids));
else if (op === 'decode') console.log(JSON.stringify(tok.decode(arg.split(',').map(Number))));
else throw new Error('usage: node scripts/model/tokens.mjs MODEL_DIR encode TEXT | decode IDS');
