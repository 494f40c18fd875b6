/**
 * The interface over a deterministic model (no KL term, no sigma, no named
 * parts): JODIE and LatentCross. Each supplies its loss and one forward pass
 * giving the user's state and the prediction; the rest is the same for both.
 */
import * as tf from "@tensorflow/tfjs-core";
import { packArtifact } from "../artifact";
import type { ModelType } from "../../spec/schema";
import type { InputShape, LossOptions, LossParts, Model, ModelInput, UserState } from "./types";

export interface DeterministicParts {
  type: ModelType;
  format: string;
  config: unknown;
  variables: Model["variables"];
  inputs: InputShape;
  loss(input: ModelInput, y: tf.Tensor2D, options: LossOptions): LossParts;
  /** One pass: the user's state (mu) and the predicted next-track embedding. */
  forward(input: ModelInput): { state: tf.Tensor2D; yHat: tf.Tensor2D };
  dispose(): void;
}

export function deterministicModel(p: DeterministicParts): Model {
  return {
    type: p.type,
    config: p.config,
    variables: p.variables,
    inputs: p.inputs,
    schedule: { beta: 0, warmupSteps: 0, freeBits: 0 },
    probabilistic: false,
    latentUnits: 0,
    loss: p.loss,
    predict: (input) => tf.tidy(() => p.forward(input).yHat),
    embed: (input, options) =>
      tf.tidy(() => {
        const { state: mu, yHat } = p.forward(input);
        const state: UserState = { mu, sigma: null, parts: {} };
        if (options?.predict) state.predicted = yHat;
        return state as unknown as tf.TensorContainer;
      }) as unknown as UserState,
    save: (extra) => packArtifact(p.format, p.type, p.config, p.variables, extra),
    dispose: p.dispose,
  };
}
