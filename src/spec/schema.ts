/**
 * The one definition of a model spec: every field's type, default and
 * documentation. Validation (parse.ts), error messages (errors.ts) and the
 * reference page (reference.ts) all read this schema.
 */
import { z } from "zod";
import { AGGREGATES, PER_PLAY_SIGNALS } from "./vocabulary";

/** What a value must look like, in words: used in error messages and the docs. */
export const labels = z.registry<{ label: string }>();

function labelled<T extends z.ZodType>(schema: T, label: string): T {
  labels.add(schema, { label });
  return schema;
}

export const SPEC_NAME = /^[a-z0-9][a-z0-9._-]*$/;
const nameLabel = "a spec name (lowercase letters, digits, '.', '_' or '-')";

const specName = () => labelled(z.string().regex(SPEC_NAME), nameLabel);
const count = (n: number) => n.toLocaleString("en");
/** An integer in [min, max]; the label (and so every error message) names both bounds. */
const intIn = (min: number, max: number) => labelled(z.number().int().min(min).max(max), `an integer from ${count(min)} to ${count(max)}`);
const nonNeg = () => labelled(z.number().nonnegative(), "a non-negative number");
const positive = () => labelled(z.number().positive(), "a positive number");
const fraction = () => labelled(z.number().min(0).max(1), "a number between 0 and 1");
const dropout = () => labelled(z.number().min(0).lt(1), "a number in [0, 1)");
const bool = () => labelled(z.boolean(), "true or false");
const text = () => labelled(z.string(), "a string");

/**
 * Upper bounds of the sizes: far beyond any run this project has made (the
 * paper's model has 128 units, 2 layers, K = 80, a window of 5, batches of
 * 256), so they refuse only typos and absurd specs; whether a spec within them
 * fits the machine is the memory estimate's question (src/spec/memory.ts).
 */
export const BOUNDS = {
  layers: 16,
  units: 4096,
  latent: 1024,
  window: 1000,
  batchSize: 65_536,
  epochs: 10_000,
  patience: 10_000,
  klWarmupSteps: 100_000_000,
  threads: 256,
  /** The API's Int and the run table's seed column are 32-bit. */
  seed: 2 ** 31 - 1,
} as const;

const within = (doc: string, max: number, why = "no real run needs more") => `${doc} (at most ${count(max)}: ${why})`;

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return labelled(z.enum(values), `one of ${values.join(", ")}`);
}

/** A non-empty list of names from `values`, each at most once. */
function listOf<const T extends readonly [string, ...string[]]>(values: T, what: string) {
  const list = z
    .array(oneOf(values))
    .min(1)
    .superRefine((items, ctx) => {
      items.forEach((item, i) => {
        if (items.indexOf(item) !== i) {
          ctx.addIssue({ code: "custom", path: [i], input: item, message: `"${item}" is listed twice` });
        }
      });
    });
  return labelled(list, `a non-empty list of ${what}`);
}

/** A field with a default and a one-line doc. The default is not re-validated. */
function field<T extends z.ZodType>(schema: T, dflt: z.util.NoUndefined<z.output<T>>, doc: string) {
  return schema.default(dflt).describe(doc);
}

/** A nested mapping: unknown keys are errors; missing means "all defaults". */
function section<S extends z.ZodRawShape>(shape: S, doc: string) {
  const mapping = labelled(z.strictObject(shape), "a mapping");
  // Every field inside has a default, so {} is a valid input.
  return mapping.prefault({} as z.input<typeof mapping>).describe(doc);
}

const ACTIVATIONS = ["leaky_relu", "relu", "elu", "tanh", "sigmoid", "linear"] as const;

function denseFields(d: { layers: number; units: number }) {
  return {
    type: field(oneOf(["dense"]), "dense", "layer type"),
    layers: field(intIn(1, BOUNDS.layers), d.layers, within("number of stacked layers", BOUNDS.layers)),
    units: field(intIn(1, BOUNDS.units), d.units, within("units per layer", BOUNDS.units)),
    activation: field(oneOf(ACTIVATIONS), "leaky_relu", "activation after each layer"),
    dropout: field(dropout(), 0.1, "dropout rate after each layer"),
  };
}

function denseStack(doc: string, d: { layers: number; units: number }) {
  return section(denseFields(d), doc);
}

export const MODEL_TYPES = ["fs-vae", "jodie", "latent-cross", "vae-cf", "average", "recent", "popularity"] as const;
export const LEARNED_TYPES = ["fs-vae", "jodie", "latent-cross", "vae-cf"] as const;

/** `type: jodie`'s fields (src/model/jodie.ts; docs/model.md has the equations). */
const jodieSection = section(
  {
    units: field(intIn(1, BOUNDS.units), 128, within("width of the dynamic user embedding u (JODIE: 128)", BOUNDS.units)),
    static_units: field(
      intIn(0, BOUNDS.units),
      32,
      within("width of the static user vector from the slow features other than hours_since_last (JODIE's one-hot user id); 0 for none", BOUNDS.units),
    ),
    static_activation: field(oneOf(ACTIVATIONS), "tanh", "activation of the static user vector's layer"),
    projection_std: field(
      nonNeg(),
      0.1,
      "standard deviation of the projection weights' zero-mean Gaussian init: near 0, the projected embedding starts as the current one",
    ),
  },
  "JODIE (Kumar et al., KDD 2019): read only with type: jodie",
);

/** `type: latent-cross`'s fields (src/model/latent-cross.ts). */
const latentCrossSection = section(
  {
    cell: field(
      oneOf(["lstm", "rnn"]),
      "lstm",
      "the recurrent cell: lstm (the gated cell closest to the paper's GRU that this project has) or rnn",
    ),
    layers: field(intIn(1, BOUNDS.layers), 1, within("number of stacked recurrent layers", BOUNDS.layers)),
    units: field(intIn(1, BOUNDS.units), 128, within("units per recurrent layer: the user state's width", BOUNDS.units)),
    activation: field(
      oneOf(["leaky_relu", "relu", "tanh", "sigmoid", "linear"]),
      "leaky_relu",
      "activation of the recurrent layers' outputs and the head's hidden layers (no elu: the recurrent layers have none)",
    ),
    dropout: field(dropout(), 0, "dropout rate after the crossed state and each hidden head layer, in training"),
    head: section(
      {
        layers: field(intIn(0, BOUNDS.layers), 1, within("hidden dense layers before the linear output layer", BOUNDS.layers)),
        units: field(intIn(1, BOUNDS.units), 128, within("units per hidden layer", BOUNDS.units)),
      },
      "the feed-forward head that replaces the paper's softmax: it predicts the next track's embedding",
    ),
  },
  "LatentCross (Beutel et al., WSDM 2018): read only with type: latent-cross",
);

/** The defaults of a section: what parsing an absent section gives. */
export const JODIE_DEFAULTS = jodieSection.parse(undefined);
export const LATENT_CROSS_DEFAULTS = latentCrossSection.parse(undefined);
export type JodieSpecFields = typeof JODIE_DEFAULTS;
export type LatentCrossSpecFields = typeof LATENT_CROSS_DEFAULTS;

/**
 * Defaults reproduce the paper's published configuration (models/fs-vae.yaml
 * spells it out); models/fs-vae-quick.yaml shows settings that train in minutes.
 */
export const SpecSchema = labelled(
  z.strictObject({
    name: specName().describe("the spec's name; in a models directory it must match the file name"),
    extends: field(
      labelled(specName().nullable(), `${nameLabel}, or null`),
      null,
      "name of a parent spec to inherit from; this file then holds only overrides (mappings merge, lists replace)",
    ),
    description: field(text(), "", "free text shown in listings"),
    type: field(
      oneOf(MODEL_TYPES),
      "fs-vae",
      "fs-vae, jodie, latent-cross and vae-cf are learned: fs-vae reads encoders, latent, decoder and loss; jodie (JODIE, KDD 2019) reads the jodie section and needs time_since_last per play and hours_since_last among the aggregates; latent-cross (LatentCross, WSDM 2018) reads latent_cross and loss.reconstruction and needs track_embedding and a context signal (time_since_last, daypart, skipped) per play; vae-cf (Mult-VAE, Liang et al. 2018) reads vae_cf, latent and loss over the user's bag of plays; all four read features and training. average (mean of all the user's plays so far), recent (mean of the last features.fast.window plays) and popularity (the training split's most played tracks) are non-learned baselines that use only training.split, training.seed and, for recent, features.fast.window",
    ),
    features: section(
      {
        embedding_scale: field(
          oneOf(["none", "rms"]),
          "none",
          "rms: inside the model, track embeddings (fast inputs and the target) are divided by the catalogue's root-mean-square coordinate and the prediction multiplied back, so the reconstruction, beta and the learning rate mean the same for unit-norm learnt vectors and raw imported features; none: embeddings as stored (the paper)",
        ),
        fast: section(
          {
            enabled: field(bool(), true, "use the fast (sequential) branch"),
            window: field(
              intIn(1, BOUNDS.window),
              5,
              within("number of most recent plays in the sequence (w); also the plays the recent baseline averages", BOUNDS.window),
            ),
            per_play: field(
              listOf(PER_PLAY_SIGNALS, "per-play signals"),
              ["track_embedding", "skipped", "daypart"],
              "signals concatenated at each step, in this order",
            ),
            shuffle: field(bool(), false, "shuffle the order of the window's plays (Table 2 ablation)"),
          },
          "fast features: the last plays as a sequence",
        ),
        slow: section(
          {
            enabled: field(bool(), true, "use the slow (aggregate) branch"),
            aggregates: field(
              listOf(AGGREGATES, "aggregate names"),
              ["plays", "likes", "playlist_adds", "skips", "restarts", "liked_plays"],
              "counts over the whole history up to t, in this order",
            ),
            daypart_shares: field(bool(), false, "append the share of plays in each of the 4 dayparts"),
            transform: field(
              oneOf(["none", "log1p", "standardize"]),
              "log1p",
              "applied to the counts (not the shares); standardize uses training-split mean and deviation",
            ),
          },
          "slow features: aggregates over the whole history",
        ),
      },
      "inputs",
    ),
    encoders: section(
      {
        fast: section(
          {
            type: field(
              oneOf(["lstm", "rnn", "mean"]),
              "lstm",
              "lstm or rnn over the sequence; mean averages the steps then applies dense layers (Aggregate Sequence baseline)",
            ),
            layers: field(intIn(1, BOUNDS.layers), 2, within("number of stacked layers", BOUNDS.layers)),
            units: field(intIn(1, BOUNDS.units), 128, within("units per layer", BOUNDS.units)),
            activation: field(oneOf(ACTIVATIONS), "leaky_relu", "activation of each layer's output"),
            dropout: field(dropout(), 0.1, "dropout rate between layers"),
          },
          "sequential encoder over the fast features (z_s)",
        ),
        slow: denseStack("feed-forward encoder over the slow features (z_n)", { layers: 2, units: 64 }),
      },
      "one encoder per branch",
    ),
    latent: section(
      {
        size: field(intIn(1, BOUNDS.latent), 80, within("K: dimension of each branch's latent z", BOUNDS.latent)),
        probabilistic: field(
          bool(),
          true,
          "Gaussian z = mu + eps * sigma with prior N(0, I); false = deterministic z, no KL term",
        ),
        combine: field(
          oneOf(["concat", "sum"]),
          "concat",
          "how z_s and z_n are joined: concat gives 2K when both branches are on, sum gives K",
        ),
        free_bits: field(
          nonNeg(),
          0,
          "minimum KL per latent unit in nats; below it the KL has no gradient (against posterior collapse)",
        ),
        kl_warmup_steps: field(
          intIn(0, BOUNDS.klWarmupSteps),
          0,
          within("optimizer steps over which beta ramps linearly from 0", BOUNDS.klWarmupSteps),
        ),
        initial_sigma: field(
          positive(),
          1,
          "sigma of q(z | x) when training starts (the log-sigma layers' bias is log of it; 1 matches the prior); a small value starts the posterior nearly deterministic",
        ),
      },
      "latent variables",
    ),
    decoder: section(
      {
        ...denseFields({ layers: 2, units: 128 }),
        skip: field(
          bool(),
          false,
          "add sum_t a_t e_t to the prediction: a learned weight per window position (starting at 0) of the last plays' track embeddings, a linear path from the fast features to the output (beyond the paper; needs the fast branch with track_embedding)",
        ),
      },
      "maps z to the next track's embedding (a final linear layer of the embedding's width follows)",
    ),
    vae_cf: section(
      {
        layers: field(
          intIn(1, BOUNDS.layers),
          1,
          within("hidden layers of the encoder; the decoder mirrors them (Mult-VAE: one of 600 units each side)", BOUNDS.layers),
        ),
        units: field(intIn(1, BOUNDS.units), 128, within("units per hidden layer", BOUNDS.units)),
        activation: field(oneOf(ACTIVATIONS), "tanh", "activation of every hidden layer (Mult-VAE: tanh)"),
        input_dropout: field(
          dropout(),
          0.5,
          "dropout rate on the bag vector x_b in training (Mult-VAE: 0.5 on its input x; here on the D coordinates of the normalised bag's embedding)",
        ),
      },
      "type: vae-cf only: the encoder reads the user's bag of plays up to t (the mean embedding of the plays with an embedding, x_b), then latent.size Gaussian units, then a decoder of the same hidden layers to the next track's embedding; latent, loss, training and features.embedding_scale apply as for fs-vae; features.fast, features.slow, encoders and decoder are not read",
    ),
    loss: section(
      {
        reconstruction: field(
          oneOf(["mse", "l2", "gaussian_fixed", "gaussian_learned"]),
          "mse",
          "mse: sum of squared errors; l2: Euclidean distance, the paper's L2 metric itself (not squared: the plays that start a new session pull the prediction less towards the mean); gaussian_fixed: Gaussian NLL with fixed variance; gaussian_learned: variance learned per dimension",
        ),
        variance: field(
          labelled(positive().nullable(), "a positive number, or null"),
          null,
          "variance for gaussian_fixed; null means 1",
        ),
        beta: field(nonNeg(), 0.5, "weight of the KL term (beta-VAE)"),
      },
      "training objective: reconstruction + beta * KL",
    ),
    jodie: jodieSection,
    latent_cross: latentCrossSection,
    training: section(
      {
        optimizer: field(oneOf(["adam", "sgd", "rmsprop"]), "adam", "optimizer"),
        learning_rate: field(positive(), 1e-5, "learning rate"),
        epochs: field(intIn(1, BOUNDS.epochs), 100, within("maximum number of passes over the training split", BOUNDS.epochs)),
        batch_size: field(intIn(1, BOUNDS.batchSize), 256, within("examples per optimizer step", BOUNDS.batchSize)),
        seed: field(
          intIn(0, BOUNDS.seed),
          7,
          within("seed for initialisation, shuffling and sampling", BOUNDS.seed, "runs store it as a 32-bit integer"),
        ),
        threads: field(
          labelled(z.union([z.literal("auto"), intIn(1, BOUNDS.threads)]), `"auto" or an integer from 1 to ${BOUNDS.threads}`),
          1,
          within(
            "threads that train data-parallel, each on its share of every batch; auto = the machine's cores. Results depend on the seed and the thread count; 1 is the single-threaded path",
            BOUNDS.threads,
          ),
        ),
        split: section(
          {
            by: field(
              oneOf(["time", "user"]),
              "time",
              "time: cut each user's plays chronologically; user: assign whole users to one split",
            ),
            train: field(fraction(), 0.7, "fraction for training"),
            validation: field(fraction(), 0.2, "fraction for validation (early stopping)"),
            test: field(fraction(), 0.1, "fraction for the reported metrics"),
          },
          "how examples are split; the three fractions must sum to 1",
        ),
        early_stopping: section(
          {
            patience: field(
              intIn(0, BOUNDS.patience),
              5,
              within("epochs without validation improvement before stopping; 0 disables", BOUNDS.patience),
            ),
          },
          "stop when the validation loss stops improving",
        ),
      },
      "optimisation",
    ),
  }),
  "a mapping",
);

/** A resolved spec: parent merged, every default applied. */
export type ModelSpec = z.output<typeof SpecSchema>;
export type ModelType = ModelSpec["type"];

/**
 * The sections only one model type reads. A spec of any other type leaves them
 * out of its hash and its canonical YAML (resolve.ts), so adding a model type
 * does not change the hash of every existing spec (runs are reused by hash).
 */
export const TYPE_SECTIONS: Partial<Record<ModelType, keyof ModelSpec>> = { jodie: "jodie", "latent-cross": "latent_cross", "vae-cf": "vae_cf" };
