// The sampling settings form → Engine.generate options (the routing controls too). Empty fields mean the engine's defaults.
import type { GenerateOptions } from '../../src/index.js';

function num(form: HTMLFormElement, name: string, check: (v: number) => boolean, rule: string): number | undefined {
  const input = form.elements.namedItem(name) as HTMLInputElement;
  if (input.value.trim() === '') return undefined;
  const v = Number(input.value);
  if (!Number.isFinite(v) || !check(v)) throw new RangeError(`${input.labels?.[0]?.textContent?.trim() ?? name} must be ${rule}, got "${input.value}"`);
  return v;
}

const int = (v: number) => Number.isInteger(v);

export function readSettings(form: HTMLFormElement): GenerateOptions {
  const topK = num(form, 'expertsPerToken', (v) => int(v) && v >= 1, 'a whole number ≥ 1');
  const topP = num(form, 'expertTopP', (v) => v > 0 && v <= 1, 'in (0, 1]');
  return {
    ...(topK !== undefined || topP !== undefined ? { routing: { topK, topP } } : {}),
    maxTokens: num(form, 'maxTokens', (v) => int(v) && v >= 1, 'a whole number ≥ 1'),
    temperature: num(form, 'temperature', (v) => v >= 0, '≥ 0'),
    topK: num(form, 'topK', (v) => int(v) && v >= 0, 'a whole number ≥ 0'),
    topP: num(form, 'topP', (v) => v > 0 && v <= 1, 'in (0, 1]'),
    repetitionPenalty: num(form, 'repetitionPenalty', (v) => v > 0, '> 0'),
    seed: num(form, 'seed', (v) => int(v) && v >= 0, 'a whole number ≥ 0'),
  };
}
