// Formats the project's TypeScript and JavaScript with dprint's TypeScript plugin (a Wasm module from
// the npm registry) run by @dprint/formatter, with the settings of dprint.json: no native binary is
// needed (the registry carries only some of dprint's platform builds).
// `node scripts/format.mjs` formats the files in place; `--check` lists the unformatted ones and fails.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createContext } from '@dprint/formatter';
import { getPath } from '@dprint/typescript';

const { lineWidth, indentWidth, useTabs, newLineKind, typescript } = JSON.parse(readFileSync('dprint.json', 'utf8'));
const context = createContext({ lineWidth, indentWidth, useTabs, newLineKind });
context.addPlugin(readFileSync(getPath()), typescript);
const problems = context.getConfigDiagnostics();
if (problems.length) throw new Error(`dprint.json: ${problems.map((d) => `${d.propertyName}: ${d.message}`).join('; ')}`);

// The project's own sources, tracked or not yet (fixtures, built files and installed packages excluded).
const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', 'src', 'test', 'demo', 'bench', 'scripts', 'vite.config.ts'], {
  encoding: 'utf8',
})
  .split('\n')
  .filter((f) => /\.(ts|mjs)$/.test(f) && !f.startsWith('test/fixtures/'));
const check = process.argv.includes('--check');
const unformatted = [];
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  const formatted = context.formatText({ filePath: file, fileText: text });
  if (formatted === text) continue;
  unformatted.push(file);
  if (!check) writeFileSync(file, formatted);
}
if (check && unformatted.length) {
  console.error(`not formatted (npm run format):\n  ${unformatted.join('\n  ')}`);
  process.exit(1);
}
console.log(`${files.length} files ${check ? 'checked' : `formatted (${unformatted.length} changed)`}`);
