import { formatSpecError } from "../../src/spec";
import { suggest } from "../../src/spec/errors";
import { errorLines, okSpec, parseX, warningLines } from "./helpers";

describe("field errors", () => {
  it("reports a type error at the key with the expected kind and the value", () => {
    const text = ["name: x", "encoders:", "  fast:", "    units: 128x", ""].join("\n");
    expect(errorLines(parseX(text))).toEqual(['models/x.yaml:4:5: encoders.fast.units: expected an integer from 1 to 4,096, got "128x"']);
  });

  it("reports numbers outside a field's range with the same wording", () => {
    const text = ["name: x", "encoders: { fast: { layers: 0, dropout: 1 } }", "training: { batch_size: 2.5 }"].join("\n");
    expect(errorLines(parseX(text))).toEqual([
      "models/x.yaml:2:21: encoders.fast.layers: expected an integer from 1 to 16, got 0",
      "models/x.yaml:2:32: encoders.fast.dropout: expected a number in [0, 1), got 1",
      "models/x.yaml:3:13: training.batch_size: expected an integer from 1 to 65,536, got 2.5",
    ]);
  });

  it("suggests the nearest key for a misspelt one", () => {
    const text = ["name: x", "encoders:", "  fast:", "    unit: 64", ""].join("\n");
    expect(errorLines(parseX(text))).toEqual(['models/x.yaml:4:5: encoders.fast.unit: unknown key; did you mean "units"?']);
  });

  it("suggests nothing for an unknown key far from every valid one", () => {
    const text = ["name: x", "latent: { size: 8, colour: red }"].join("\n");
    expect(errorLines(parseX(text))).toEqual(["models/x.yaml:2:20: latent.colour: unknown key"]);
  });

  it("lists the allowed values of an enum, suggesting only a close one", () => {
    const text = ["name: x", "encoders:", "  fast: { type: gru }", "  slow: { activation: relux }"].join("\n");
    expect(errorLines(parseX(text))).toEqual([
      'models/x.yaml:3:11: encoders.fast.type: expected one of lstm, rnn, mean, got "gru"',
      'models/x.yaml:4:11: encoders.slow.activation: expected one of leaky_relu, relu, elu, tanh, sigmoid, linear, got "relux"; did you mean "relu"?',
    ]);
  });

  it("reports a missing required key where the mapping starts", () => {
    const text = ["# a comment", "", "type: fs-vae", ""].join("\n");
    expect(errorLines(parseX(text))).toEqual([
      "models/x.yaml:3:1: name: required key missing: expected a spec name (lowercase letters, digits, '.', '_' or '-')",
    ]);
  });

  it("rejects a malformed name", () => {
    expect(errorLines(parseX("name: FS VAE\n"))).toEqual([
      `models/x.yaml:1:1: name: expected a spec name (lowercase letters, digits, '.', '_' or '-'), got "FS VAE"`,
    ]);
  });

  it("reports an unknown feature name at the list item, with a suggestion", () => {
    const text = ["name: x", "features:", "  fast:", "    per_play:", "      - track_embedding", "      - skiped", "  slow: { aggregates: [plays, likez] }"].join("\n");
    expect(errorLines(parseX(text))).toEqual([
      'models/x.yaml:6:9: features.fast.per_play.1: expected one of track_embedding, skipped, liked, daypart, restarted, added_to_playlist, time_since_last, got "skiped"; did you mean "skipped"?',
      'models/x.yaml:7:31: features.slow.aggregates.1: expected one of plays, likes, playlist_adds, skips, restarts, liked_plays, hours_since_last, got "likez"; did you mean "likes"?',
    ]);
  });

  it("rejects a feature listed twice and an empty feature list", () => {
    const text = ["name: x", "features:", "  fast: { per_play: [skipped, daypart, skipped] }", "  slow: { aggregates: [] }"].join("\n");
    expect(errorLines(parseX(text))).toEqual([
      'models/x.yaml:3:40: features.fast.per_play.2: "skipped" is listed twice',
      "models/x.yaml:4:11: features.slow.aggregates: expected a non-empty list of aggregate names, got an empty list",
    ]);
  });

  it("rejects a document that is not a mapping", () => {
    expect(errorLines(parseX("- name: x\n"))).toEqual(["models/x.yaml:1:1: expected a mapping, got a list"]);
    expect(errorLines(parseX("# nothing\n"))).toEqual(["models/x.yaml:1:1: expected a mapping, got null"]);
  });

  it("keeps a YAML key named __proto__ a plain unknown key", () => {
    expect(errorLines(parseX("name: x\n__proto__: { name: y }\n"))).toEqual(["models/x.yaml:2:1: __proto__: unknown key"]);
  });
});

describe("YAML syntax errors", () => {
  it("carry line and column and no key path", () => {
    const text = ["name: x", "latent: { size: 8", "loss: { beta: 0 }", ""].join("\n");
    const lines = errorLines(parseX(text));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines[0]).toMatch(/^models\/x\.yaml:3:1: \S/);
  });

  it("report duplicate keys where the duplicate is", () => {
    expect(errorLines(parseX("name: x\nlatent: { size: 8 }\nlatent: { size: 9 }\n"))).toEqual(["models/x.yaml:3:1: Map keys must be unique"]);
  });

  it("reject several documents in one file", () => {
    expect(errorLines(parseX("name: x\n---\nname: y\n"))).toEqual([
      "models/x.yaml:2:1: Source contains multiple documents; please use YAML.parseAllDocuments()",
    ]);
  });

  it("reject tabs as indentation", () => {
    expect(errorLines(parseX("name: x\nlatent:\n\tsize: 8\n"))[0]).toMatch(/^models\/x\.yaml:3:1: Tabs are not allowed/);
  });
});

describe("cross-field checks", () => {
  it("requires split fractions to sum to 1, reported at the split", () => {
    const text = ["name: x", "training:", "  split:", "    train: 0.8", "    validation: 0.2", "    test: 0.1"].join("\n");
    expect(errorLines(parseX(text))).toEqual(["models/x.yaml:3:3: training.split: fractions must sum to 1, got 0.8 + 0.2 + 0.1 = 1.1"]);
  });

  it("accepts fractions that sum to 1 up to rounding", () => {
    okSpec(parseX("name: x\ntraining: { split: { train: 0.6, validation: 0.3, test: 0.1 } }\n"));
  });

  it("requires a validation split when early stopping is on", () => {
    const text = "name: x\ntraining: { split: { train: 0.9, validation: 0, test: 0.1 } }\n";
    expect(errorLines(parseX(text))).toEqual([
      "models/x.yaml:2:34: training.split.validation: early stopping watches the validation loss, so training.split.validation must be positive (or set training.early_stopping.patience: 0)",
    ]);
    okSpec(parseX(text.replace("} }", "}, early_stopping: { patience: 0 } }")));
  });

  it("requires training data for a learned model only", () => {
    const text = "name: x\ntraining: { split: { train: 0, validation: 0.5, test: 0.5 } }\n";
    expect(errorLines(parseX(text))).toEqual(["models/x.yaml:2:22: training.split.train: must be positive: a learned model needs training data"]);
    okSpec(parseX(`${text}type: popularity\n`));
  });

  it("requires at least one branch for a learned model, not for a baseline", () => {
    const text = ["name: x", "features:", "  fast: { enabled: false }", "  slow: { enabled: false }"].join("\n");
    expect(errorLines(parseX(text))).toEqual(["models/x.yaml:3:11: features.fast.enabled: at least one of features.fast and features.slow must be enabled"]);
    okSpec(parseX(`${text}\ntype: average\n`));
  });

  it("rejects beta > 0 with a deterministic latent", () => {
    const text = ["name: x", "latent: { probabilistic: false }", "loss: { beta: 0.5 }"].join("\n");
    expect(errorLines(parseX(text))).toEqual([
      "models/x.yaml:2:11: latent.probabilistic: a deterministic latent (latent.probabilistic: false) has no KL term for loss.beta to weight; got loss.beta: 0.5, set it to 0",
    ]);
  });

  it("names the feature a jodie or latent-cross spec lacks", () => {
    const jodie = ["name: x", "type: jodie", "features:", "  fast: { per_play: [track_embedding, skipped] }", "  slow: { aggregates: [plays] }"].join("\n");
    expect(errorLines(parseX(jodie))).toEqual([
      "models/x.yaml:4:11: features.fast.per_play: jodie's user RNN reads the played track's embedding and the time since the user's previous play: add time_since_last to features.fast.per_play",
      "models/x.yaml:5:11: features.slow.aggregates: jodie projects the user's embedding over the time from the last play to the prediction: add hours_since_last to features.slow.aggregates",
    ]);
    expect(errorLines(parseX("name: x\ntype: jodie\nfeatures: { slow: { enabled: false } }\n"))).toEqual([
      expect.stringMatching(/^models\/x\.yaml:3:1: features\.fast\.per_play: .*add time_since_last/),
      expect.stringMatching(/^models\/x\.yaml:3:21: features\.slow\.enabled: jodie reads both branches.*set features\.slow\.enabled: true$/),
    ]);
    const cross = ["name: x", "type: latent-cross", "features: { fast: { per_play: [liked] } }", "loss: { reconstruction: gaussian_learned }"].join("\n");
    expect(errorLines(parseX(cross))).toEqual([
      "models/x.yaml:3:21: features.fast.per_play: latent-cross crosses each played track's embedding with its context: add track_embedding and a context (one of time_since_last, daypart, skipped) to features.fast.per_play",
      "models/x.yaml:4:9: loss.reconstruction: latent-cross does not learn a variance: use mse, l2 or gaussian_fixed",
    ]);
    // The defaults (track_embedding, skipped, daypart) give latent-cross its context; the same features are no error for fs-vae.
    okSpec(parseX("name: x\ntype: latent-cross\n"));
    okSpec(parseX("name: x\nfeatures: { slow: { aggregates: [plays] } }\n"));
  });

  it("warns about settings that have no effect, without failing", () => {
    const text = [
      "name: x",
      "latent: { probabilistic: false, free_bits: 0.1 }",
      "loss: { beta: 0, variance: 2 }",
      "features: { fast: { shuffle: true } }",
      "encoders: { fast: { type: mean } }",
      "training: { epochs: 3 }",
    ].join("\n");
    const result = okSpec(parseX(text));
    expect(warningLines(result)).toEqual([
      "models/x.yaml:2:33: latent.free_bits: latent.free_bits has no effect when latent.probabilistic is false",
      "models/x.yaml:3:18: loss.variance: has no effect with loss.reconstruction: mse",
      "models/x.yaml:4:21: features.fast.shuffle: has no effect with encoders.fast.type: mean (the mean ignores order)",
      "models/x.yaml:6:13: training.epochs: patience 5 >= epochs 3: early stopping can never trigger",
    ]);
  });
});

describe("several errors at once", () => {
  it("reports field errors, unknown keys and cross-field errors together, sorted by position", () => {
    const text = [
      "name: x", //                                   1
      "encoders:", //                                 2
      "  fast:", //                                   3
      "    units: 128x", //                           4
      "    unit: 3", //                               5
      "    type: gru", //                             6
      "features:", //                                 7
      "  fast: { per_play: [track_embedding, skiped] }", // 8
      "latent: { probabilistic: false }", //          9
      "training: { split: { train: 0.8 }, bogus: 1 }", // 10
    ].join("\n");
    expect(errorLines(parseX(text))).toEqual([
      'models/x.yaml:4:5: encoders.fast.units: expected an integer from 1 to 4,096, got "128x"',
      'models/x.yaml:5:5: encoders.fast.unit: unknown key; did you mean "units"?',
      'models/x.yaml:6:5: encoders.fast.type: expected one of lstm, rnn, mean, got "gru"',
      'models/x.yaml:8:39: features.fast.per_play.1: expected one of track_embedding, skipped, liked, daypart, restarted, added_to_playlist, time_since_last, got "skiped"; did you mean "skipped"?',
      "models/x.yaml:9:11: latent.probabilistic: a deterministic latent (latent.probabilistic: false) has no KL term for loss.beta to weight; got loss.beta: 0.5, set it to 0",
      "models/x.yaml:10:13: training.split: fractions must sum to 1, got 0.8 + 0.2 + 0.1 = 1.1",
      "models/x.yaml:10:36: training.bogus: unknown key",
    ]);
  });
});

describe("formatting and suggestions", () => {
  it("formats with and without a position or path", () => {
    expect(formatSpecError({ file: "a.yaml", line: 2, column: 3, path: "latent.size", message: "m" })).toBe("a.yaml:2:3: latent.size: m");
    expect(formatSpecError({ file: "a.yaml", line: 2, column: 3, path: "", message: "m" })).toBe("a.yaml:2:3: m");
    expect(formatSpecError({ file: "<overrides>", line: 0, column: 0, path: "loss.beta", message: "m" })).toBe("<overrides>: loss.beta: m");
  });

  it("suggests only close candidates", () => {
    expect(suggest("unit", ["units", "layers"])).toBe("units");
    expect(suggest("learningrate", ["learning_rate", "epochs"])).toBe("learning_rate");
    expect(suggest("lr", ["learning_rate", "epochs"])).toBeUndefined();
    expect(suggest("gru", ["lstm", "rnn", "mean"])).toBeUndefined();
    expect(suggest("x", ["y"])).toBeUndefined();
    expect(suggest("fs-vea", ["fs-vae", "average"])).toBe("fs-vae"); // adjacent swap counts as one edit
    expect(suggest("size", ["type", "layers"])).toBeUndefined();
  });
});
