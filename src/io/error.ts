// The error of a bad or unreadable checkpoint file: it names the file and, where one is at fault, the tensor.
export class SafetensorsError extends Error {
  readonly file: string;
  readonly tensor?: string;
  constructor(file: string, message: string, tensor?: string) {
    super(`${file}: ${tensor === undefined ? '' : `tensor '${tensor}': `}${message}`);
    this.name = 'SafetensorsError';
    this.file = file;
    this.tensor = tensor;
  }
}

// The error of a file a source cannot serve as asked: not a regular file, an HTML page where data was
// asked, a request that never got an answer. It names the path or URL.
export class SourceError extends Error {
  readonly file: string;
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'SourceError';
    this.file = file;
  }
}

// The browser's storage (Cache API or OPFS) refused a file for lack of room. It names the file, what is
// used of the quota, and what to do.
export class StorageQuotaError extends SourceError {
  constructor(file: string, storage: string, usage?: number, quota?: number) {
    const mb = (n: number) => `${Math.round(n / 1e6)} MB`;
    const used = usage !== undefined && quota !== undefined ? ` (${mb(usage)} used of ${mb(quota)})` : '';
    super(file,
      `the browser's storage quota for this site is full${used}, so the ${storage} cannot keep this file: delete cached models (deleteCachedModel) or load with cache: 'none'`);
    this.name = 'StorageQuotaError';
  }
}
