// Every WGSL file of shaders/ by name (its file name without .wgsl), inlined as strings by the build,
// so the package needs no file access; a kernel names its files, and the pipeline key is the names.
const files = import.meta.glob<string>('../../shaders/*.wgsl', { query: '?raw', import: 'default', eager: true });

export const SHADERS: ReadonlyMap<string, string> = new Map(
  Object.entries(files).map(([path, code]) => [path.slice(path.lastIndexOf('/') + 1, -'.wgsl'.length), code]),
);

/** The named files joined into one module; WGSL wants every `enable` before the first declaration. */
export function shaderCode(names: readonly string[]): string {
  const lines = names.map((n) => {
    const code = SHADERS.get(n);
    if (code === undefined) throw new Error(`webmoe: no shader named ${n} in shaders/`);
    return code;
  }).join('\n').split('\n');
  const isEnable = (l: string) => l.startsWith('enable ');
  return [...new Set(lines.filter(isEnable)), ...lines.filter((l) => !isEnable(l))].join('\n');
}
