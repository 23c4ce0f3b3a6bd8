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
