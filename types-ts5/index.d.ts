// For TypeScript 5 and older, whose DOM library has no WebGPU types: the package's declarations with
// @webgpu/types added. TypeScript 6 and newer have them built in, and read dist/ directly (package.json,
// "types@>=6.0"), so the package never brings a second copy that clashes with theirs.
/// <reference types="@webgpu/types" />
export * from '../dist/index.js';
