// Structured output by constrained decoding (xgrammar's token mask per step): JSON-schema replies
// that always parse and validate, on the mixtral fixture (random weights: the mask does all the work)
// and the bundled model, greedy and sampled; any JSON object; EBNF grammars; and named errors.
import { beforeAll, describe, expect, it } from 'vitest';
import { Engine, EngineOptionError } from '../../src/api/engine.js';
import type { ChatCompletionRequest } from '../../src/api/openai.js';
import { nodeDirSource } from '../../src/io/nodeSource.js';
import { GrammarError } from '../../src/model/grammar.js';
import { bundledModelDir } from '../../src/node.js'; // (installs xgrammar's Node loader)
import { collect } from '../helpers/generation.js';
import { testDevice } from '../helpers/gpu.js';
import { type Schema, schemaProblems } from '../helpers/jsonSchema.js';
import { suiteEngine } from '../helpers/engine.js';
import { modelDir } from '../helpers/models.js';

/** Bounded schemas (a random model fills strings and arrays as long as it may: the bounds end them). */
const SCHEMAS: Schema[] = [
  {
    type: 'object',
    properties: {
      name: { type: 'string', maxLength: 8 },
      age: { type: 'integer', minimum: 0, maximum: 120 },
      tags: { type: 'array', items: { enum: ['a', 'bb', 'ccc'] }, maxItems: 3 },
      ok: { type: 'boolean' },
    },
    required: ['name', 'age', 'tags', 'ok'],
    additionalProperties: false,
  },
  {
    type: 'object',
    properties: {
      city: { enum: ['Bath', 'London', 'Lyme'] },
      rooms: { type: 'array', items: { type: 'object', properties: { n: { type: 'integer', minimum: 1, maximum: 9 } }, required: ['n'] }, minItems: 1,
        maxItems: 2 },
    },
    required: ['city', 'rooms'],
  },
];

const messages = [{ role: 'user', content: 'Describe a person as JSON.' }];

function expectValid(text: string, schema: Schema): void {
  let value: unknown;
  expect(() => (value = JSON.parse(text)), text).not.toThrow();
  expect(schemaProblems(value, schema), text).toEqual([]);
}

describe('structured output', () => {
  const engineOf = suiteEngine(modelDir('mixtral'), { contextLength: 256 });
  let engine: Engine;
  beforeAll(() => (engine = engineOf()));

  it('response_format json_schema: every reply parses and matches its schema, greedy and sampled', async () => {
    for (const schema of SCHEMAS) {
      for (const [temperature, seed] of [[0, 0], [1, 1], [1, 2], [1.5, 3]]) {
        const reply = await engine.chat.completions.create({
          messages,
          max_tokens: 150,
          temperature,
          seed,
          response_format: { type: 'json_schema', json_schema: { name: 'thing', schema, strict: true } },
        });
        expect(reply.choices[0].finish_reason).toBe('stop');
        expectValid(reply.choices[0].message.content!, schema);
      }
    }
  });

  it('streamed, with n and WebLLM\'s json_object + schema string: every choice parses', async () => {
    const schema = SCHEMAS[1];
    const texts = ['', ''];
    const stream = await engine.chat.completions.create({
      messages,
      max_tokens: 150,
      temperature: 1,
      seed: 7,
      n: 2,
      stream: true,
      response_format: { type: 'json_object', schema: JSON.stringify(schema) },
    });
    for await (const c of stream) for (const choice of c.choices) texts[choice.index] += choice.delta.content ?? '';
    for (const text of texts) expectValid(text, schema);
  });

  it('json_object: a reply that ends (not cut by max_tokens) is a JSON object', async () => {
    let ended = 0;
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const reply = await engine.chat.completions.create({ messages, max_tokens: 120, temperature: 1, seed, response_format: { type: 'json_object' } });
      const text = reply.choices[0].message.content!;
      expect(text.startsWith('{')).toBe(true);
      if (reply.choices[0].finish_reason !== 'stop') continue;
      ended++;
      expect(typeof JSON.parse(text)).toBe('object');
    }
    expect(ended).toBeGreaterThan(0);
  });

  it('an EBNF grammar: WebLLM\'s response_format grammar, and generate()\'s grammar option', async () => {
    const grammar = 'root ::= ("yes" | "no") " " [0-9] [0-9]?';
    for (const seed of [1, 2, 3]) {
      const reply = await engine.chat.completions.create({ messages, max_tokens: 10, temperature: 1, seed, response_format: { type: 'grammar', grammar } });
      expect(reply.choices[0].message.content).toMatch(/^(yes|no) \d\d?$/);
    }
    const { text } = await collect(engine.generate('Is it?', { grammar: { type: 'ebnf', grammar: 'answer ::= "maybe"', root: 'answer' }, maxTokens: 10 }));
    expect(text).toBe('maybe');
  });

  it('refuses bad formats by name', async () => {
    const bad = async (response_format: unknown) =>
      engine.chat.completions.create({ messages, max_tokens: 5, response_format } as ChatCompletionRequest & { stream?: false }).catch((e: Error) => e);
    expect(await bad({ type: 'json_schema', json_schema: { name: 'x', schema: '{not json' } })).toBeInstanceOf(GrammarError);
    expect(String(await bad({ type: 'grammar', grammar: 'root ::= ' }))).toMatch(/GrammarError: webmoe: the ebnf format does not compile/);
    expect(String(await bad({ type: 'yaml' }))).toBe(
      'EngineOptionError: webmoe: response_format.type must be text, json_object, json_schema or grammar, got "yaml"',
    );
    expect(String(await bad({ type: 'json_schema', json_schema: { name: 'x', description: 'd', schema: {} } }))).toContain(
      'response_format.json_schema.description is not supported',
    );
    expect(String(await bad({ type: 'text', schema: '{}' }))).toContain('response_format.schema is not a field of a "text" format');
    const both = await engine.chat.completions.create({
      messages,
      response_format: { type: 'json_object' },
      tools: [{ type: 'function', function: { name: 'f' } }],
    }).catch((e: Error) => e);
    expect(both).toBeInstanceOf(EngineOptionError);
    // the engine is still fine after xgrammar refused a grammar
    const ok = await engine.chat.completions.create({ messages, max_tokens: 150, temperature: 0,
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema: SCHEMAS[0] } } });
    expectValid(ok.choices[0].message.content!, SCHEMAS[0]);
  });
});

describe('structured output on the bundled model', () => {
  it('JSON-schema outputs parse and validate', async () => {
    const device = await testDevice();
    const engine = await Engine.load(device, nodeDirSource(bundledModelDir));
    for (const seed of [1, 2]) {
      const { text, last } = await collect(
        engine.generate('Miss Bennet wrote:', { grammar: { type: 'json_schema', schema: SCHEMAS[0] }, maxTokens: 120, temperature: 1, seed }),
      );
      expect(last.stats!.finishReason).toBe('stop');
      expectValid(text, SCHEMAS[0]);
    }
    engine.dispose();
    device.destroy();
  });
});
