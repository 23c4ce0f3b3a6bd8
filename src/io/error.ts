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
