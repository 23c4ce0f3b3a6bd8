// Grammar-constrained decoding with xgrammar (the library WebLLM uses): a format — any JSON object, a
// JSON schema, an EBNF grammar — compiled against the tokenizer's vocabulary, and a matcher per
// generation that gives each step's mask of allowed tokens and follows the tokens picked. The mask
// lets an EOS through only where the grammar is complete, so an output that ends by EOS parses.
import type { CompiledGrammar, GrammarCompiler, GrammarMatcher } from '@mlc-ai/web-xgrammar';
import { type XGrammar, xgrammar } from '../platform/xgrammar.js';
import type { TextTokenizer } from './tokenizer.js';

/** What the output must match. */
export type GrammarSpec =
  /** any JSON object */
  | { type: 'json' }
  /** JSON matching this schema (an object or its text); properties the schema does not name are not generated */
  | { type: 'json_schema'; schema: Record<string, unknown> | string }
  /** text matching this EBNF grammar (xgrammar's dialect; `root` is the start rule, default "root") */
  | { type: 'ebnf'; grammar: string; root?: string };

/** A format that does not compile (a bad schema or grammar), or a token the grammar refused. */
export class GrammarError extends Error {
  override name = 'GrammarError';
}

const reason = (e: unknown) => (e instanceof Error ? e.message : typeof e === 'string' ? e : JSON.stringify(e) ?? String(e));

/** One generation's matcher. */
export class TokenMatcher {
  constructor(private readonly matcher: GrammarMatcher, private readonly compiled: CompiledGrammar) {}

  /** The tokens allowed next: bit i % 32 of word i / 32. */
  mask(): Promise<Int32Array> {
    return this.matcher.getNextTokenBitmask();
  }

  /** Follows a token the mask allowed. */
  accept(token: number): void {
    if (!this.matcher.acceptToken(token)) throw new GrammarError(`webmoe: the grammar refused token ${token}, which its mask allowed`);
  }

  dispose(): void {
    this.matcher.dispose();
    this.compiled.dispose();
  }
}

/** A model's grammars: its vocabulary is preprocessed once (on first use), each format compiled per call. */
export class Grammars {
  private compiler?: Promise<GrammarCompiler>;

  constructor(private readonly tokenizer: TextTokenizer, private readonly vocabSize: number, private readonly stopIds: readonly number[]) {}

  /** A matcher for `spec`: throws GrammarError naming what does not compile. */
  async matcher(spec: GrammarSpec): Promise<TokenMatcher> {
    const xg = await xgrammar();
    const compiler = await (this.compiler ??= (async () => {
      const { tokens, type, prependSpace } = this.tokenizer.vocabulary(this.vocabSize);
      const info = await xg.TokenizerInfo.createTokenizerInfo(tokens, type, prependSpace, this.vocabSize, [...this.stopIds]);
      return xg.GrammarCompiler.createGrammarCompiler(info);
    })());
    if (spec.type === 'json_schema' && typeof spec.schema === 'string') {
      try {
        JSON.parse(spec.schema);
      } catch (e) {
        throw new GrammarError(`webmoe: the json_schema schema is not JSON: ${reason(e)}`);
      }
    }
    // xgrammar's WASM aborts on a bad schema or grammar and prints why to the console (its own
    // error says only "Aborted()"); the library stays usable.
    let compiled: CompiledGrammar;
    try {
      compiled = await compile(xg, compiler, spec);
    } catch (e) {
      throw new GrammarError(`webmoe: the ${spec.type} format does not compile (xgrammar printed why on the console): ${reason(e)}`, { cause: e });
    }
    return new TokenMatcher(await xg.GrammarMatcher.createGrammarMatcher(compiled), compiled);
  }

  dispose(): void {
    void this.compiler?.then((c) => c.dispose()).catch(() => {});
  }
}

/** xgrammar's rule for a string with a maxLength; it lets control characters in, which JSON forbids raw. */
const LOOSE_STRING = String.raw`[^"\\\r\n]`;
const JSON_STRING = String.raw`[^\0-\x1f"\\\r\n]`;

/**
 * JSON on one line with no free whitespace (a model cannot pad it forever), as JSON.stringify writes
 * it; through xgrammar's EBNF of the schema, whose loose string rule is tightened.
 */
async function compile(xg: XGrammar, compiler: GrammarCompiler, spec: GrammarSpec): Promise<CompiledGrammar> {
  if (spec.type === 'ebnf') return compiler.compileGrammar(spec.grammar, spec.root ?? 'root');
  if (spec.type !== 'json' && spec.type !== 'json_schema') {
    throw new GrammarError(`webmoe: grammar type ${JSON.stringify((spec as { type: unknown }).type)} is not one of json, json_schema, ebnf`);
  }
  // Any object: a schema with no properties, not strict (strict would allow only {}).
  const schema = spec.type === 'json' ? '{"type":"object"}' : typeof spec.schema === 'string' ? spec.schema : JSON.stringify(spec.schema);
  const ebnf = await xg.Testings._jsonSchemaToEBNF(schema, false, -1, [',', ':'], spec.type === 'json_schema');
  return compiler.compileGrammar(ebnf.replaceAll(LOOSE_STRING, JSON_STRING));
}
