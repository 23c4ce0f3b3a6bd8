// Random MoE blocks for property tests: every field drawn from a seed, weights never zero.
import type { MoESpec } from '../../src/index.js';
import { Rng } from '../ref/rng.js';

export function randomSpec(rng: Rng, over: Partial<MoESpec> = {}): MoESpec {
  const tokens = over.tokens ?? rng.pick([1, 2, 7, 64, 300]);
  const numExperts = over.numExperts ?? rng.pick([1, 4, 8, 32, 64]);
  const hidden = over.hidden ?? rng.int(5, 70);
  const intermediate = over.intermediate ?? rng.int(5, 70);
  const topK = over.topK ?? Math.min(numExperts, rng.pick([1, 2, 4, 8, numExperts]));
  const E = numExperts;
  return {
    tokens,
    numExperts,
    hidden,
    intermediate,
    topK,
    x: rng.array(tokens * hidden),
    router: rng.array(E * hidden, 1 / Math.sqrt(hidden)),
    gateUp: rng.array(E * 2 * intermediate * hidden, 1 / Math.sqrt(hidden)),
    down: rng.array(E * hidden * intermediate, 1 / Math.sqrt(intermediate)),
    ...over,
  };
}

/** One of the routing variants of real checkpoints, drawn at random. */
export function randomRouting(rng: Rng, E: number): Partial<MoESpec> {
  switch (rng.int(0, 3)) {
    case 0:
      return { normTopK: true }; // Mixtral, Qwen3-MoE
    case 1:
      return { normTopK: false }; // OLMoE, Qwen2-MoE
    case 2:
      return { topkBeforeSoftmax: true, routerBias: rng.array(E) }; // GraniteMoE, gpt-oss
    default: { // DeepSeek-V3
      const nGroup = E % 4 === 0 ? 4 : 1;
      const topkGroup = nGroup > 1 ? 3 : 1;
      const choosable = (E / nGroup) * topkGroup;
      return {
        scoring: 'sigmoid',
        normTopK: true,
        routedScaling: 2.5,
        nGroup,
        topkGroup,
        topK: Math.min(choosable, rng.pick([1, 2, 4, 8, choosable])),
        selectionBias: rng.array(E, 0.2),
      };
    }
  }
}

/**
 * gpt-oss's experts on a drawn block: router bias, top-k on the logits then softmax, gate/up and down
 * biases, clamped SwiGLU (a limit of 0.7 clamps most gate and up values here, 7, gpt-oss's, few).
 */
export function gptOssExperts(rng: Rng, s: Pick<MoESpec, 'numExperts' | 'hidden' | 'intermediate'>, limit = rng.pick([0.7, 7])): Partial<MoESpec> {
  const { numExperts: E, hidden: H, intermediate: I } = s;
  return {
    topkBeforeSoftmax: true,
    routerBias: rng.array(E),
    gateUpBias: rng.array(E * 2 * I, 0.5),
    downBias: rng.array(E * H, 0.5),
    activation: { kind: 'swiglu_clamped', alpha: 1.702, limit },
  };
}
