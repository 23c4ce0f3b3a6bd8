// The sampling settings form → Engine.generate options (the routing controls too). Empty fields mean the engine's defaults.
import type { GenerateOptions, RoutingOptions } from '../../src/index.js';

function num(form: HTMLFormElement, name: string, check: (v: number) => boolean, rule: string): number | undefined {
  const input = form.elements.namedItem(name) as HTMLInputElement;
  if (input.value.trim() === '') return undefined;
  const v = Number(input.value);
  if (!Number.isFinite(v) || !check(v)) throw new RangeError(`${input.labels?.[0]?.textContent?.trim() ?? name} must be ${rule}, got "${input.value}"`);
  return v;
}

const int = (v: number) => Number.isInteger(v);

/** 'layer:e,e; layer:e' → per layer, a mask with those experts off (the engine checks layers and the count left). */
function disabled(form: HTMLFormElement, experts: number): Record<number, boolean[]> | undefined {
  const input = form.elements.namedItem('disabledExperts') as HTMLInputElement;
  if (input.value.trim() === '') return undefined;
  const masks: Record<number, boolean[]> = {};
  for (const part of input.value.split(';')) {
    const m = /^\s*(\d+)\s*:\s*(\d+(?:\s*,\s*\d+)*)\s*$/.exec(part);
    if (!m) throw new RangeError(`Disabled experts must read layer:expert,expert (e.g. 0:1,2), got "${part.trim()}"`);
    const mask = (masks[Number(m[1])] ??= new Array<boolean>(experts).fill(true));
    for (const e of m[2].split(',').map(Number)) {
      if (e >= experts) throw new RangeError(`Disabled experts: this model has experts 0…${experts - 1}, got ${e}`);
      mask[e] = false;
    }
  }
  return masks;
}

export function readSettings(form: HTMLFormElement, experts: number): GenerateOptions {
  const topK = num(form, 'expertsPerToken', (v) => int(v) && v >= 1, 'a whole number ≥ 1');
  const topP = num(form, 'expertTopP', (v) => v > 0 && v <= 1, 'in (0, 1]');
  const capacityFactor = num(form, 'capacityFactor', (v) => v > 0, '> 0');
  const routing: RoutingOptions = { topK, topP, capacityFactor, capacityMode: capacityFactor === undefined ? undefined : 'next',
    expertMask: disabled(form, experts) };
  return {
    ...(Object.values(routing).some((v) => v !== undefined) ? { routing } : {}),
    maxTokens: num(form, 'maxTokens', (v) => int(v) && v >= 1, 'a whole number ≥ 1'),
    temperature: num(form, 'temperature', (v) => v >= 0, '≥ 0'),
    topK: num(form, 'topK', (v) => int(v) && v >= 0, 'a whole number ≥ 0'),
    topP: num(form, 'topP', (v) => v > 0 && v <= 1, 'in (0, 1]'),
    repetitionPenalty: num(form, 'repetitionPenalty', (v) => v > 0, '> 0'),
    seed: num(form, 'seed', (v) => int(v) && v >= 0, 'a whole number ≥ 0'),
  };
}
