// Every kernel's declaration (src/kernels/kernel.ts) against its WGSL: the fields of struct Params in
// order and type, each @binding's index, name and access, the override constants; preludes declare no
// bindings; every shader file belongs to a kernel. Host code and shader cannot drift apart.
import { describe, expect, it } from 'vitest';
import { Kernel } from '../../src/kernels/kernel.js';
import { SHADERS } from '../../src/kernels/shaders.js';

const modules = import.meta.glob('../../src/kernels/*.ts', { eager: true });
const kernels = Object.values(modules).flatMap((m) => Object.values(m as object).filter((v): v is Kernel => v instanceof Kernel));

const code = (names: readonly string[]) => names.map((n) => SHADERS.get(n) ?? '').join('\n');

function paramsFields(wgsl: string): [string, string][] {
  const body = wgsl.match(/struct Params \{([^}]*)\}/)?.[1];
  if (body === undefined) return [];
  return body.split('\n').map((l) => l.replace(/\/\/.*/, '').trim()).filter(Boolean)
    .map((l) => l.replace(/,$/, '').split(':').map((s) => s.trim()) as [string, string]);
}

function bindings(wgsl: string): [number, string, string][] {
  return [...wgsl.matchAll(/@group\(0\) @binding\((\d+)\) var<([^>]+)> (\w+)/g)]
    .map((m) => [Number(m[1]), m[3], m[2].replace(/\s/g, '')] as [number, string, string]);
}

const ACCESS = { uniform: 'uniform', read: 'storage,read', read_write: 'storage,read_write' };

describe('kernel declarations', () => {
  it('finds every kernel', () => {
    expect(kernels.map((k) => k.name).sort()).toEqual(
      ['align', 'attention', 'attention decode', 'attention prep', 'capacity', 'combine', 'copy', 'embed', 'mla attention', 'mla prep', 'mla query',
        'mla value', 'moe_gemm', 'moe_gemv', 'rmsnorm', 'router', 'sample'],
    );
  });

  it.each(kernels.map((k) => [k.name, k] as const))('%s: struct Params and @binding lines match the declaration', (_, k) => {
    const wgsl = code(k.spec.files);
    expect(k.spec.files.every((f) => SHADERS.has(f))).toBe(true);
    const fields = Object.entries(k.spec.uniforms);
    expect(paramsFields(wgsl)).toEqual(fields);
    const expected: [number, string, string][] = [
      ...(fields.length ? [[0, 'p', 'uniform'] as [number, string, string]] : []),
      ...Object.entries(k.spec.bindings).map(([name, kind], i) => [i + (fields.length ? 1 : 0), name, ACCESS[kind]] as [number, string, string]),
    ];
    expect(bindings(wgsl).sort((a, b) => a[0] - b[0])).toEqual(expected);
  });

  it.each(kernels.map((k) => [k.name, k] as const))('%s: its preludes exist and declare no bindings; its overrides exist', (_, k) => {
    const preludes = k.spec.preludes ?? [];
    for (const p of preludes) {
      expect(SHADERS.has(p), p).toBe(true);
      expect(bindings(SHADERS.get(p)!), p).toEqual([]);
      expect(paramsFields(SHADERS.get(p)!), p).toEqual([]);
    }
    const all = code([...preludes, ...k.spec.files]);
    for (const o of k.spec.overrides ?? []) expect(all, o).toMatch(new RegExp(`override ${o}\\b`));
  });

  it('every shader file is a kernel\'s file or prelude', () => {
    const used = new Set(kernels.flatMap((k) => [...k.spec.files, ...(k.spec.preludes ?? [])]));
    expect([...SHADERS.keys()].filter((n) => !used.has(n))).toEqual([]);
  });
});
