// JSON.parse keeps the last of two equal keys in an object without a word: a checkpoint header or index
// with a key twice is ambiguous (which tensor is meant?), so it is refused, naming the key.

/** The first key that occurs twice in one object of the JSON text `text` (already known to parse), or undefined. */
export function duplicateKey(text: string): string | undefined {
  const objects: (Set<string> | undefined)[] = []; // one entry per open object or array (undefined for an array)
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{') objects.push(new Set());
    else if (c === '[') objects.push(undefined);
    else if (c === '}' || c === ']') objects.pop();
    else if (c === '"') {
      const start = i;
      for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
      const keys = objects[objects.length - 1];
      let j = i + 1;
      while (/\s/.test(text[j] ?? '')) j++;
      if (keys && text[j] === ':') { // a key, not a value
        const key = JSON.parse(text.slice(start, i + 1)) as string;
        if (keys.has(key)) return key;
        keys.add(key);
      }
    }
  }
  return undefined;
}
