// Byte-level BPE in the Hugging Face `tokenizers` format (GPT-2 style): learning merges from text
// and writing tokenizer.json. Shared by the test-fixture tokenizer and the bundled model's.

/** GPT-2's map from bytes to printable characters, used by the ByteLevel pre-tokenizer and decoder. */
export function bytesToUnicode() {
  const printable = [];
  for (const [lo, hi] of [[0x21, 0x7e], [0xa1, 0xac], [0xae, 0xff]]) {
    for (let b = lo; b <= hi; b++) printable.push(b);
  }
  const map = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    map[b] = String.fromCodePoint(printable.includes(b) ? b : 256 + extra++);
  }
  return map;
}

// The ByteLevel pre-tokenizer's split (GPT-2's pattern).
const SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/**
 * Learns `count` merges by plain BPE over the distinct pieces of `text`: the most frequent pair,
 * ties to the first in code-unit order, so the result is deterministic.
 */
export function learnMerges(text, count) {
  const byteChar = bytesToUnicode();
  const words = new Map();
  for (const piece of text.match(SPLIT)) {
    const entry = words.get(piece);
    if (entry) entry.n++;
    else words.set(piece, { symbols: [...new TextEncoder().encode(piece)].map((b) => byteChar[b]), n: 1 });
  }
  const merges = [];
  while (merges.length < count) {
    const pairs = new Map();
    for (const { symbols, n } of words.values()) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = `${symbols[i]} ${symbols[i + 1]}`;
        pairs.set(key, (pairs.get(key) ?? 0) + n);
      }
    }
    let best;
    for (const [key, n] of pairs) {
      if (!best || n > best.n || (n === best.n && key < best.key)) best = { key, n };
    }
    if (!best) break;
    const [a, b] = best.key.split(' ');
    merges.push([a, b]);
    for (const word of words.values()) {
      const merged = [];
      for (let i = 0; i < word.symbols.length; i++) {
        if (word.symbols[i] === a && word.symbols[i + 1] === b) merged.push(a + b), i++;
        else merged.push(word.symbols[i]);
      }
      word.symbols = merged;
    }
  }
  return merges;
}

/**
 * tokenizer.json and tokenizer_config.json for `specials` (ids 0…, the first is the BOS that
 * encoding adds, the second the EOS), the 256 byte tokens, then one token per merge.
 */
export function tokenizerFiles(specials, merges, configExtra = {}) {
  const vocab = {};
  for (const token of [...specials, ...bytesToUnicode(), ...merges.map(([a, b]) => a + b)]) {
    vocab[token] = Object.keys(vocab).length;
  }
  const [bos, eos] = specials;
  const addedToken = (content) => ({
    id: vocab[content],
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map(addedToken),
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: bos, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: bos, type_id: 1 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { [bos]: { id: bos, ids: [vocab[bos]], tokens: [bos] } },
    },
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
  const config = {
    add_bos_token: true,
    add_eos_token: false,
    added_tokens_decoder: Object.fromEntries(specials.map((s) => {
      const { id, ...rest } = addedToken(s);
      return [String(id), rest];
    })),
    bos_token: bos,
    eos_token: eos,
    tokenizer_class: 'PreTrainedTokenizerFast',
    ...configExtra,
  };
  return { tokenizer, config, vocabSize: Object.keys(vocab).length };
}
