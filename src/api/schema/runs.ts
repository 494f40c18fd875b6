import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root, Subscription } from "type-graphql";
import { activateRun, cancel, getRun, pageRuns, runCurves, startRun } from "../../jobs/runs";
import { watchRun, type ProgressReport } from "../../jobs/watch";
import type { ApiContext } from "../context";
import { COST, perItem } from "../limits";
import { toConnection, toRun } from "./map";
import {
  ActivateRunInput,
  ActivateRunPayload,
  CancelTrainingInput,
  CancelTrainingPayload,
  CurvePoint,
  ProgressKind,
  Run,
  RunConnection,
  RunStatus,
  StartTrainingInput,
  StartTrainingPayload,
  TrainingProgress,
} from "./types";

@Resolver(() => Run)
export class RunResolver {
  @Query(() => Run, { description: "One run" })
  async run(@Arg("id", () => ID) id: string, @Ctx() { store }: ApiContext): Promise<Run> {
    return toRun(await getRun(store, id));
  }

  @Query(() => RunConnection, { description: "Runs, newest first", complexity: perItem("first", 20) })
  async runs(
    @Ctx() { store }: ApiContext,
    @Arg("status", () => RunStatus, { nullable: true }) status?: RunStatus | null,
    @Arg("first", () => Int, { nullable: true, defaultValue: 20 }) first?: number,
    @Arg("after", () => String, { nullable: true }) after?: string | null,
  ) {
    return toConnection(await pageRuns(store, { status, first, after }), toRun);
  }

  @FieldResolver(() => [CurvePoint], { description: "Every persisted step and epoch report, in order", complexity: 50 })
  async curves(@Root() run: Run, @Ctx() { store }: ApiContext): Promise<CurvePoint[]> {
    const rows = await runCurves(store, run.id);
    return rows.map((r) => ({ ...r, kind: r.kind === "epoch" ? ProgressKind.EPOCH : ProgressKind.STEP, at: new Date(r.at) }));
  }

  @Mutation(() => StartTrainingPayload, {
    description: "Queues a training run of a named spec (model) or of spec YAML (spec); spec errors come back as SPEC_INVALID",
    complexity: COST.spec,
  })
  async startTraining(
    @Arg("input", () => StartTrainingInput) input: StartTrainingInput,
    @Ctx() { store, worker }: ApiContext,
  ): Promise<StartTrainingPayload> {
    const started = await startRun(store, {
      model: input.model ?? undefined,
      spec: input.spec ?? undefined,
      overrides: input.overrides ?? undefined,
      seed: input.seed ?? undefined,
    });
    worker?.wake();
    return { run: toRun(await getRun(store, started.id)), clientMutationId: input.clientMutationId ?? null };
  }

  @Mutation(() => CancelTrainingPayload, {
    description: "Cancels a run: at once when QUEUED, within one step when RUNNING (its last checkpoint is kept)",
  })
  async cancelTraining(
    @Arg("input", () => CancelTrainingInput) input: CancelTrainingInput,
    @Ctx() { store }: ApiContext,
  ): Promise<CancelTrainingPayload> {
    await cancel(store, input.runId);
    return { run: toRun(await getRun(store, input.runId)), clientMutationId: input.clientMutationId ?? null };
  }

  @Mutation(() => ActivateRunPayload, {
    description:
      "Makes a successful run with a model the one serving uses when no runId is given (as `rubato runs activate`); CONFLICT for any other run",
  })
  async activateRun(
    @Arg("input", () => ActivateRunInput) input: ActivateRunInput,
    @Ctx() { store, serving }: ApiContext,
  ): Promise<ActivateRunPayload> {
    const run = await activateRun(store, input.runId);
    // This server serves it from the next request on; other servers see it within a second (the active run's lookup).
    serving.invalidate();
    return { run: toRun(run), clientMutationId: input.clientMutationId ?? null };
  }

  @Subscription(() => TrainingProgress, {
    description: "A run's reports: its status first, then steps, epochs and status changes, until it ends",
    subscribe: ({ args, context }) =>
      watchRun((context as ApiContext).store, args.runId as string, { events: (context as ApiContext).worker?.events }),
  })
  trainingProgress(@Root() report: ProgressReport, @Arg("runId", () => ID) _runId: string): TrainingProgress {
    return report as TrainingProgress;
  }
}
