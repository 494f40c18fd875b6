-- CreateEnum
CREATE TYPE "run_status" AS ENUM ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED');

-- CreateTable
CREATE TABLE "track" (
    "id" SERIAL NOT NULL,
    "external_id" TEXT NOT NULL,
    "title" TEXT,
    "artist" TEXT,
    "genre" TEXT,
    "embedding" REAL[],
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "track_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "app_user" (
    "id" SERIAL NOT NULL,
    "external_id" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "app_user_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "listening_event" (
    "user_id" INTEGER NOT NULL,
    "track_id" INTEGER NOT NULL,
    "played_at" TIMESTAMPTZ(3) NOT NULL,
    "skipped" BOOLEAN NOT NULL DEFAULT false,
    "liked" BOOLEAN NOT NULL DEFAULT false,
    "added_to_playlist" BOOLEAN NOT NULL DEFAULT false,
    "restarted" BOOLEAN NOT NULL DEFAULT false,
    "ms_played" INTEGER,
    "context" TEXT,

    CONSTRAINT "listening_event_pkey" PRIMARY KEY ("user_id","played_at","track_id")
);

-- CreateTable
CREATE TABLE "run" (
    "id" UUID NOT NULL,
    "model_name" TEXT NOT NULL,
    "spec_yaml" TEXT NOT NULL,
    "spec_hash" TEXT NOT NULL,
    "seed" INTEGER NOT NULL,
    "data_cutoff" TIMESTAMPTZ(3),
    "status" "run_status" NOT NULL DEFAULT 'QUEUED',
    "progress" JSONB,
    "metrics" JSONB,
    "error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),
    "heartbeat_at" TIMESTAMPTZ(3),
    "checkpoint" BYTEA,

    CONSTRAINT "run_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "model_artifact" (
    "run_id" UUID NOT NULL,
    "topology" JSONB NOT NULL,
    "weights" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "model_artifact_pkey" PRIMARY KEY ("run_id")
);

-- CreateTable
CREATE TABLE "user_embedding" (
    "run_id" UUID NOT NULL,
    "user_id" INTEGER NOT NULL,
    "as_of" TIMESTAMPTZ(3) NOT NULL,
    "mu" REAL[],
    "sigma" REAL[],

    CONSTRAINT "user_embedding_pkey" PRIMARY KEY ("run_id","user_id")
);

-- CreateTable
CREATE TABLE "setting" (
    "key" TEXT NOT NULL,
    "value" JSONB NOT NULL,

    CONSTRAINT "setting_pkey" PRIMARY KEY ("key")
);

-- CreateIndex
CREATE UNIQUE INDEX "track_external_id_key" ON "track"("external_id");

-- CreateIndex
CREATE UNIQUE INDEX "app_user_external_id_key" ON "app_user"("external_id");

-- CreateIndex
CREATE INDEX "run_status_created_idx" ON "run"("status", "created_at");

-- listening_event has no foreign keys on purpose: per-row FK triggers halved bulk-import
-- speed (measured), and every write path resolves user and track ids by joining those
-- tables (src/store/import/events.ts), so a dangling id cannot be written.

-- AddForeignKey
ALTER TABLE "model_artifact" ADD CONSTRAINT "model_artifact_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "user_embedding" ADD CONSTRAINT "user_embedding_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "user_embedding" ADD CONSTRAINT "user_embedding_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "app_user"("id") ON DELETE CASCADE ON UPDATE CASCADE;
