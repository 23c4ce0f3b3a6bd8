// What to do next, in plain words, for the ways a load or a reply fails (the error's own message says
// what went wrong; this says what the visitor can do about it).
const LOAD: [RegExp, string][] = [
  [/no WebGPU|no adapter|lacks limits/i, ''], // the message already says what to do
  [/does not fit/i, ''],
  [/HTTP 40[13]|gated|unauthori[sz]ed/i, 'The repository may be private or gated: pick another model from the list.'],
  [/HTTP 404|not found/i, 'Check the address: the folder must hold config.json, tokenizer.json and model.safetensors. Or pick a model from the list.'],
  [/no answer|unreachable|offline|Failed to fetch|NetworkError/i,
    'Check your connection; a server that does not allow other sites to read its files (CORS) also fails this way.'],
  [/out of storage|quota/i, 'The browser has no room left to keep the files: free some disk space, or use "Clear cached weights".'],
  [/model_type|not supported|unsupported|refuse/i, 'This model is not one webmoe runs: pick one from the list.'],
  [/lost/i, 'Load the model again; if it keeps happening, try smaller weights (q4) or another browser.'],
];

export function loadAdvice(message: string): string {
  return LOAD.find(([re]) => re.test(message))?.[1] ?? 'Pick another model from the list, or check that the folder holds a complete model.';
}

export function replyAdvice(message: string): string {
  if (/context (length|holds)|exceed/i.test(message)) {
    return 'The conversation is longer than this model can read: start a new one with Clear, or send a shorter message.';
  }
  if (/lost/i.test(message)) return 'Load the model again.';
  return 'Try again, or lower Max tokens; if it keeps failing, load the model again.';
}
