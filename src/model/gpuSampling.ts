// The sampler on the GPU: the decoder's last logits row never leaves it. Each step records the sample
// kernel (shaders/sample.wgsl) after the forward, in the same submit, on its sequence's row of the
// forward's logits (a batched forward has one per sequence, each with its own sampler), and reads back 8 bytes: the
// token id and a status word (NaN logits, an infinite largest one). It picks as the CPU Sampler does
// (sampling.ts) in float32, from the same seeded numbers. Its buffers are made once per sampler, so a
// step allocates nothing on the GPU.
import { type Dispatch, Workspace } from '../gpu/workspace.js';
import { SAMPLE_BIAS, SAMPLE_PENALTIES, type SampleBuffers, sampleKernel } from '../kernels/sample.js';
import { checkBias, NonFiniteLogitsError, samplingPlan, type SamplingOptions, type SamplingPlan } from './sampling.js';

export class GpuSampler {
  private readonly plan: SamplingPlan;
  private readonly ws: Workspace;
  private readonly buffers: Omit<SampleBuffers, 'logits'>;
  private readonly readback: GPUBuffer;
  private readonly draw = new Float32Array(1);
  /** the kernel's launch per logits buffer (a decoder plan's) and row: made once each */
  private readonly launches = new Map<GPUBuffer, Dispatch[]>();
  private readonly penalties: boolean;

  /** `sequence`: the tokens before the first pick (the prompt), for the repetition penalty. */
  constructor(private readonly device: GPUDevice, private readonly vocab: number, options: SamplingOptions, sequence: readonly number[]) {
    this.plan = samplingPlan(options);
    const { bias, repetitionPenalty, frequencyPenalty, presencePenalty } = this.plan;
    checkBias(bias, vocab);
    this.penalties = repetitionPenalty !== 1 || frequencyPenalty !== 0 || presencePenalty !== 0;
    const ws = (this.ws = new Workspace(device));
    try {
      const history = new Uint32Array(this.penalties ? vocab : 1);
      if (this.penalties) {
        for (const id of sequence) {
          if (!(Number.isInteger(id) && id >= 0 && id < vocab)) throw new RangeError(`webmoe: GpuSampler: token ${id} is outside the vocabulary of ${vocab}`);
          history[id] = 1;
        }
      }
      const dense = new Float32Array(bias.length ? vocab : 1);
      for (const [id, b] of bias) dense[id] = b;
      this.buffers = {
        bias: ws.upload(dense, 'logit bias'),
        history: ws.upload(history, 'sampling history'),
        w: ws.buffer(vocab * 4, 'sampling weights'),
        draw: ws.buffer(4, 'sampling draw'),
        cand: ws.buffer(this.plan.topP < 1 ? vocab * 4 : 4, 'top-p candidates'),
        out: ws.buffer(8, 'sampled token'),
      };
      this.readback = device.createBuffer({ label: 'sampled token readback', size: 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    } catch (e) {
      ws.destroy();
      throw e;
    }
  }

  /**
   * Records the sample from row `row` of `logits` [rows, vocab] into `encoder`, after the forward that
   * wrote them (a batched forward's row of this sampler's sequence); readToken() reads it once submitted.
   */
  recordRow(encoder: GPUCommandEncoder, logits: GPUBuffer, row: number): void {
    if (this.plan.temperature > 0) {
      this.draw[0] = this.plan.random();
      this.device.queue.writeBuffer(this.buffers.draw, 0, this.draw);
    }
    const pass = encoder.beginComputePass({ label: 'sample' });
    this.launch(logits, row)(pass);
    pass.end();
    encoder.copyBufferToBuffer(this.buffers.out, 0, this.readback, 0, 8);
  }

  /** The token recordRow sampled, once its encoder is submitted. */
  async readToken(): Promise<number> {
    await this.readback.mapAsync(GPUMapMode.READ);
    const [id, status] = new Uint32Array(this.readback.getMappedRange());
    this.readback.unmap();
    if (status === 1) throw new NonFiniteLogitsError('webmoe: the logits contain NaN (the model overflowed): no token to sample');
    if (status === 2) throw new NonFiniteLogitsError('webmoe: the largest logit is not finite (the model overflowed): no token to sample');
    return id;
  }

  destroy(): void {
    this.ws.destroy();
    this.readback.destroy();
    this.launches.clear();
  }

  private launch(logits: GPUBuffer, row: number): Dispatch {
    let rows = this.launches.get(logits);
    if (!rows) this.launches.set(logits, rows = []);
    let d = rows[row];
    if (!d) {
      const p = this.plan;
      d = sampleKernel(this.ws, { ...this.buffers, logits }, {
        vocab: this.vocab,
        temperature: p.temperature,
        topK: p.topK,
        topP: p.topP,
        repetition: p.repetitionPenalty,
        frequency: p.frequencyPenalty,
        presence: p.presencePenalty,
        flags: (p.bias.length ? SAMPLE_BIAS : 0) | (this.penalties ? SAMPLE_PENALTIES : 0),
        row,
      });
      rows[row] = d;
    }
    return d;
  }
}
