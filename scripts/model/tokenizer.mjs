// Learns the bundled model's byte-level BPE tokenizer on the training split and encodes both
// splits with @huggingface/tokenizers, the library webmoe itself uses, so training and inference
// cannot disagree on a token.
// Usage: node scripts/model/tokenizer.mjs CORPUS_DIR MODEL_DIR
// Reads CORPUS_DIR/{train,val}.txt (novels separated by blank-line triples); writes
// MODEL_DIR/{tokenizer.json,tokenizer_config.json} and CORPUS_DIR/{train,val}.bin (uint16 ids,
// the EOS between novels).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { learnMerges, tokenizerFiles } from '../lib/bpe.mjs';

const VOCAB = 1024;
const SPECIALS = ['<s>', '</s>'];
const [corpusDir, modelDir] = process.argv.slice(2);
if (!corpusDir || !modelDir) throw new Error('usage: node scripts/model/tokenizer.mjs CORPUS_DIR MODEL_DIR');

const train = readFileSync(join(corpusDir, 'train.txt'), 'utf8');
const merges = learnMerges(train, VOCAB - SPECIALS.length - 256);
const { tokenizer, config, vocabSize } = tokenizerFiles(SPECIALS, merges, { model_max_length: 512 });
mkdirSync(modelDir, { recursive: true });
writeFileSync(join(modelDir, 'tokenizer.json'), JSON.stringify(tokenizer) + '\n');
writeFileSync(join(modelDir, 'tokenizer_config.json'), JSON.stringify(config, null, 2) + '\n');

const tok = new Tokenizer(tokenizer, config);
const eos = tokenizer.model.vocab['</s>'];
for (const split of ['train', 'val']) {
  const text = readFileSync(join(corpusDir, `${split}.txt`), 'utf8');
  const ids = [];
  for (const novel of text.split('\n\n\n')) {
    // Whole novels: pieces cut at paragraphs would split "\n\n" unlike encoding the text would.
    for (const id of tok.encode(novel, { add_special_tokens: false }).ids) ids.push(id);
    ids.push(eos);
  }
  writeFileSync(join(corpusDir, `${split}.bin`), new Uint16Array(ids));
  console.log(`${split}: ${ids.length} tokens, ${(text.length / ids.length).toFixed(2)} characters per token`);
}
console.log(`wrote ${modelDir}: ${vocabSize} tokens`);
