// Where tile choices outlive the page: localStorage in a page, IndexedDB in a worker (workers have
// no localStorage), nothing in Node. Storage that fails (private modes, opaque origins, quota) only
// loses the memo: the next load runs the trial again.

const DB = 'webmoe';
const STORE = 'tiles';

/** IndexedDB's records, read once per realm by `loadStoredTiles`: lookups stay synchronous. */
let fromDb: Map<string, string> | undefined;
let loading: Promise<void> | undefined;

/** The stored value for `key`: localStorage, or what `loadStoredTiles` read from IndexedDB. */
export function storedTile(key: string): string | undefined {
  const local = localStorageOrNone();
  return (local ? local.getItem(key) : fromDb?.get(key)) ?? undefined;
}

/** Resolves once stored (a worker may be ended right after its load); never rejects. */
export async function storeTile(key: string, value: string): Promise<void> {
  const local = localStorageOrNone();
  if (local) {
    try {
      local.setItem(key, value);
    } catch { /* quota: keep the choice for this session only */ }
    return;
  }
  fromDb?.set(key, value);
  if (hasIndexedDb()) await withStore('readwrite', (s) => s.put(value, key)).catch(() => {});
}

/** Reads IndexedDB's choices where there is no localStorage (a worker); at once elsewhere. */
export function loadStoredTiles(): Promise<void> {
  if (localStorageOrNone() || !hasIndexedDb()) return Promise.resolve();
  loading ??= (async () => {
    const map = new Map<string, string>();
    try {
      const [keys, values] = await Promise.all([
        withStore('readonly', (s) => s.getAllKeys()),
        withStore('readonly', (s) => s.getAll()),
      ]);
      keys.forEach((k, i) => map.set(String(k), String(values[i])));
    } catch { /* unreadable: start empty */ }
    fromDb = map;
  })();
  return loading;
}

const hasIndexedDb = (): boolean => typeof indexedDB !== 'undefined';

function localStorageOrNone(): Storage | undefined {
  try {
    return (globalThis as { localStorage?: Storage }).localStorage;
  } catch {
    return undefined; // access denied (opaque origins)
  }
}

/** One request on the tile store, opening (and on first use creating) the database. */
function withStore<T>(mode: IDBTransactionMode, request: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(DB, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(STORE);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const r = request(db.transaction(STORE, mode).objectStore(STORE));
      r.onsuccess = () => {
        db.close();
        resolve(r.result);
      };
      r.onerror = () => {
        db.close();
        reject(r.error);
      };
    };
  });
}
