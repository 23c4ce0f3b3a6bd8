// A kernel declared once: its WGSL files, the fields of its uniform struct and its bindings by name,
// the preludes a launch may put before its files and the override constants it may set. A launch
// passes uniforms and buffers by name; the words and the binding order come from the declaration,
// and the pipeline key from the files and overrides. test/kernels/declarations.test.ts reads every
// shader's `struct Params` and `@binding` lines and checks them against these declarations.
import { computePipeline } from '../gpu/pipelines.js';
import { type Dispatch, f32Bits, type Workspace } from '../gpu/workspace.js';
import { shaderCode } from './shaders.js';

/** `uniform`: var<uniform>; `read` / `read_write`: var<storage, …>. */
export type BindingKind = 'uniform' | 'read' | 'read_write';

export interface KernelSpec<U extends string, B extends string, O extends string> {
  /** The kernel's own files, in order, after any preludes: they declare its struct Params and bindings. */
  files: readonly string[];
  /** Fields of `struct Params` in order (bound at 0 as `p`); none: the kernel has no Params. */
  uniforms: Readonly<Record<U, 'u32' | 'f32'>>;
  /** The bindings after Params, in @binding order. */
  bindings: Readonly<Record<B, BindingKind>>;
  /** Every file a launch may put before `files` (variants, formats, epilogues); they declare no bindings. */
  preludes?: readonly string[];
  overrides?: readonly O[];
}

export interface Launch<U extends string, B extends string, O extends string> {
  uniforms: Record<U, number>;
  buffers: Record<B, GPUBuffer>;
  grid: [number, number?, number?];
  preludes?: readonly string[];
  overrides?: Partial<Record<O, number>>;
}

export class Kernel<U extends string = string, B extends string = string, O extends string = string> {
  constructor(readonly name: string, readonly spec: KernelSpec<U, B, O>) {}

  /** One launch of the kernel into a compute pass; its uniform buffer and bind group live in `ws`. */
  launch(ws: Workspace, l: Launch<U, B, O>): Dispatch {
    const preludes = l.preludes ?? [];
    for (const p of preludes) if (!this.spec.preludes?.includes(p)) throw new Error(`webmoe: ${this.name} declares no prelude ${p}`);
    const constants = Object.fromEntries(Object.entries(l.overrides ?? {}).filter(([, v]) => v !== undefined).sort()) as Record<string, number>;
    const files = [...preludes, ...this.spec.files];
    const key = `${files.join('+')} ${JSON.stringify(constants)}`;
    const pipeline = computePipeline(ws.device, key, () => shaderCode(files), constants);
    const fields = Object.entries(this.spec.uniforms) as [U, 'u32' | 'f32'][];
    const params = fields.length
      ? [ws.uniform(fields.map(([name, type]) => (type === 'f32' ? f32Bits(l.uniforms[name]) : l.uniforms[name])), `${this.name} params`)]
      : [];
    const buffers = (Object.keys(this.spec.bindings) as B[]).map((name) => l.buffers[name]);
    return ws.dispatch(pipeline, [...params, ...buffers], l.grid);
  }
}

export const defineKernel = <U extends string, B extends string, O extends string = never>(name: string, spec: KernelSpec<U, B, O>): Kernel<U, B, O> =>
  new Kernel(name, spec);
