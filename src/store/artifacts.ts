/** Table `model_artifact`: a run's trained model (topology JSON and weights), one per run. */
import type { RunStatus } from "../generated/prisma/enums";
import type { Store } from "./store";

/** A model artifact as stored: the topology (JSON, model-specific) and the weights' bytes. */
export interface StoredArtifact {
  topology: unknown;
  weights: Uint8Array;
}

/** Stores a run's model, replacing the one it had (a resumed run trains again). */
export async function saveArtifact(store: Store, runId: string, artifact: { topology: unknown; weights: Uint8Array }): Promise<void> {
  const data = { topology: artifact.topology as object, weights: new Uint8Array(artifact.weights) };
  await store.prisma.modelArtifact.upsert({ where: { runId }, create: { runId, ...data }, update: data });
}

/** What serving loads to serve a run: the run's status, model and spec, and its artifact (null when it has none). */
export interface ServableRun {
  status: RunStatus;
  modelName: string;
  specYaml: string;
  artifact: StoredArtifact | null;
}

/** A run and its model for serving; null when there is no such run (the id must be a UUID). */
export async function servableRun(store: Store, runId: string): Promise<ServableRun | null> {
  return store.prisma.run.findUnique({
    where: { id: runId },
    select: { status: true, modelName: true, specYaml: true, artifact: { select: { topology: true, weights: true } } },
  });
}
