// Where the chat page's model comes from: a URL (the bundled model, any folder of model files, or a
// Hugging Face repo page turned into its resolve/ file URLs), which the engine worker fetches into the
// Cache API; or a local folder, picked with the File System Access API or a directory <input>, whose
// File objects go to the worker as they are (it reads them there).
import { fileListSource, type ModelSpec } from '../../src/index.js';

/** A model for the engine worker (`spec`: an absolute URL or File objects) and its name for the page. */
export interface ModelChoice {
  name: string;
  spec: ModelSpec;
}

/**
 * The folder URL of a model's files. https://huggingface.co/ORG/NAME (optionally /tree/REV or
 * /resolve/REV/…) becomes https://huggingface.co/ORG/NAME/resolve/REV/; other URLs, relative ones
 * included, name the folder itself.
 */
export function resolveModelUrl(input: string, page: string): string {
  const text = input.trim();
  if (!text) throw new Error('Enter a model URL: a folder with config.json and model.safetensors, or https://huggingface.co/ORG/NAME');
  const url = new URL(text, page);
  if (url.hostname === 'huggingface.co' || url.hostname === 'www.huggingface.co') {
    const parts = url.pathname.split('/').filter(Boolean);
    if (parts[0] === 'datasets' || parts[0] === 'spaces') throw new Error(`${text} is a Hugging Face ${parts[0].slice(0, -1)}, not a model`);
    if (parts.length < 2) throw new Error(`${text}: a Hugging Face model URL names ORG/NAME, as in https://huggingface.co/ORG/NAME`);
    const [org, name, kind, rev] = parts;
    const revision = (kind === 'tree' || kind === 'resolve' || kind === 'blob') && rev ? rev : 'main';
    return `https://huggingface.co/${org}/${name}/resolve/${encodeURIComponent(revision)}/`;
  }
  return url.href.endsWith('/') ? url.href : `${url.href}/`;
}

/** A model URL (relative ones against the page: the worker has another base). */
export function urlModel(input: string): ModelChoice {
  const url = resolveModelUrl(input, location.href);
  return { name: url, spec: url };
}

/** Files of <input type="file" webkitdirectory> (or picked one by one). */
export function folderModel(files: ArrayLike<File>, name?: string): ModelChoice {
  if (files.length === 0) throw new Error('The picked folder is empty');
  const spec = Array.from(files);
  return { name: name ?? fileListSource(spec).name, spec };
}

interface DirectoryHandle {
  name: string;
  values(): AsyncIterable<{ kind: 'file' | 'directory'; name: string; getFile?: () => Promise<File> }>;
}

export const canPickDirectory = (): boolean => 'showDirectoryPicker' in globalThis;

/** A folder picked with showDirectoryPicker (Chromium): its top-level files. */
export async function pickDirectoryModel(): Promise<ModelChoice> {
  const picker = (globalThis as unknown as { showDirectoryPicker(o?: object): Promise<DirectoryHandle> }).showDirectoryPicker;
  const dir = await picker({ mode: 'read' });
  const files: File[] = [];
  for await (const entry of dir.values()) {
    if (entry.kind === 'file' && entry.getFile) files.push(await entry.getFile());
  }
  return folderModel(files, dir.name);
}
