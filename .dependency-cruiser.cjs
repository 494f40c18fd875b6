/**
 * The layers of src/ and the directions imports may take between them
 * (docs/architecture.md, "Layers"). `npm run lint` runs it:
 *   depcruise src --config .dependency-cruiser.cjs
 *
 * TIERS lists the layers from the bottom up. A module may import its own layer
 * and any layer of a lower tier; layers in one tier may not import each other.
 * Type-only imports count: they are dependencies of the design all the same.
 */

/** [layer, the paths it holds] */
const TIERS = [
  // Shared leaves: errors, the logger, the seeded RNG, the generated Prisma client.
  [["shared", "^src/(errors|log|random)\\.ts$|^src/generated/"]],
  // The model DSL: its schema, vocabulary and checks. Pure.
  [["spec", "^src/spec/"]],
  // Pure cores: features from plays, the FS-VAE in tfjs, the synthetic world.
  [
    ["features", "^src/features/"],
    ["model", "^src/model/"],
    ["demo", "^src/demo/"],
  ],
  // Pure metrics and analyses over the features and the model's outputs.
  [["eval", "^src/eval/"]],
  // The store: reads and writes only (both backends, migrations, the file importers).
  [["store", "^src/store/"]],
  // Test hooks that pause a store's transactions before their commit.
  [["test-hooks", "^src/test-hooks\\.ts$"]],
  // Services over the store: training, the data services (demo world, embed-tracks), serving.
  [
    ["train", "^src/train/"],
    ["data", "^src/data/"],
    ["serving", "^src/serving/"],
  ],
  // Runs: the queue, workers, the run service, evaluation and movement (these use serving's model path).
  [["jobs", "^src/jobs/"]],
  // Edges over the services: the GraphQL API, the HTML report.
  [
    ["api", "^src/api/"],
    ["report", "^src/report/"],
  ],
  // `rubato serve`: store, worker and API together.
  [["app", "^src/app\\.ts$"]],
  // The command line.
  [["cli", "^src/cli/"]],
];

const layers = TIERS.flatMap((tier, rank) => tier.map(([name, path]) => ({ name, path, rank })));

const layerRules = layers.map((layer) => {
  const allowed = layers.filter((other) => other.rank < layer.rank || other === layer);
  return {
    name: `layer-${layer.name}`,
    severity: "error",
    comment:
      `${layer.name} may import only ` +
      (allowed.length > 1 ? allowed.filter((l) => l !== layer).map((l) => l.name).join(", ") + " and itself" : "itself") +
      " (the tiers in .dependency-cruiser.cjs)",
    from: { path: layer.path },
    to: { path: "^src/", pathNot: allowed.map((l) => l.path) },
  };
});

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "Modules may not import each other, directly or through others.",
      from: { path: "^src/" },
      to: { circular: true },
    },
    {
      name: "no-folder-cycles",
      severity: "error",
      comment: "Directories may not import each other, even when no single module cycle does.",
      scope: "folder",
      from: { path: "^src/" },
      to: { circular: true },
    },
    {
      name: "layer-unassigned",
      severity: "error",
      comment: "Every module of src/ belongs to a layer: add a new directory to TIERS in .dependency-cruiser.cjs.",
      from: { path: "^src/", pathNot: layers.map((l) => l.path) },
      to: {},
    },
    ...layerRules,
  ],
  options: {
    includeOnly: "^src/",
    doNotFollow: { path: "^src/generated/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    reporterOptions: { text: { highlightFocused: false } },
  },
};
