-- Run queue: who holds a run, how often it was attempted, a cancel request for a running run,
-- and the run serving uses.
ALTER TABLE "run" ADD COLUMN "worker_id" TEXT;
ALTER TABLE "run" ADD COLUMN "attempts" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE "run" ADD COLUMN "cancel_requested" BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE "run" ADD COLUMN "active" BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE "run" ADD COLUMN "checkpoint_at" TIMESTAMPTZ(3);

-- At most one active run.
CREATE UNIQUE INDEX "run_active_key" ON "run"("active") WHERE "active";

-- The history of a run's curves: one row per persisted step or epoch report.
CREATE TABLE "run_progress" (
    "run_id" UUID NOT NULL,
    "seq" INTEGER NOT NULL,
    "kind" TEXT NOT NULL,
    "epoch" INTEGER NOT NULL,
    "step" INTEGER NOT NULL,
    "values" JSONB NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "run_progress_pkey" PRIMARY KEY ("run_id","seq")
);

ALTER TABLE "run_progress" ADD CONSTRAINT "run_progress_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "run"("id") ON DELETE CASCADE ON UPDATE CASCADE;
