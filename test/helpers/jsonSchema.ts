// A JSON-schema check for the subset the structured-output tests use (type, properties, required,
// additionalProperties: false, enum, items, min/maxItems, min/maxLength, minimum/maximum): the list
// of problems, empty when `value` matches.
export type Schema = Record<string, unknown>;

const typeOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v);

export function schemaProblems(value: unknown, schema: Schema, path = '$'): string[] {
  const s = schema as {
    type?: string;
    properties?: Record<string, Schema>;
    required?: string[];
    additionalProperties?: boolean;
    enum?: unknown[];
    items?: Schema;
    minItems?: number;
    maxItems?: number;
    minLength?: number;
    maxLength?: number;
    minimum?: number;
    maximum?: number;
  };
  const t = typeOf(value);
  if (s.type && !(t === s.type || (s.type === 'number' && t === 'integer'))) return [`${path}: ${t}, not ${s.type}`];
  const problems: string[] = [];
  if (s.enum && !s.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) problems.push(`${path}: ${JSON.stringify(value)} not in the enum`);
  if (typeof value === 'string') {
    const n = [...value].length;
    if (s.minLength !== undefined && n < s.minLength) problems.push(`${path}: shorter than ${s.minLength}`);
    if (s.maxLength !== undefined && n > s.maxLength) problems.push(`${path}: longer than ${s.maxLength}`);
  }
  if (typeof value === 'number') {
    if (s.minimum !== undefined && value < s.minimum) problems.push(`${path}: below ${s.minimum}`);
    if (s.maximum !== undefined && value > s.maximum) problems.push(`${path}: above ${s.maximum}`);
  }
  if (Array.isArray(value)) {
    if (s.minItems !== undefined && value.length < s.minItems) problems.push(`${path}: fewer than ${s.minItems} items`);
    if (s.maxItems !== undefined && value.length > s.maxItems) problems.push(`${path}: more than ${s.maxItems} items`);
    if (s.items) value.forEach((v, i) => problems.push(...schemaProblems(v, s.items!, `${path}[${i}]`)));
  }
  if (t === 'object') {
    const o = value as Record<string, unknown>;
    for (const key of s.required ?? []) if (!(key in o)) problems.push(`${path}: no ${key}`);
    for (const [key, v] of Object.entries(o)) {
      const sub = s.properties?.[key];
      if (sub) problems.push(...schemaProblems(v, sub, `${path}.${key}`));
      else if (s.additionalProperties === false) problems.push(`${path}: unexpected ${key}`);
    }
  }
  return problems;
}
