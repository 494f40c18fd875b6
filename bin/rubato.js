#!/usr/bin/env -S node --max-semi-space-size=64
// Runs the TypeScript sources directly through swc (decorator metadata included).
// --max-semi-space-size: a larger young generation; bulk import allocates many
// short-lived strings, and this cut its garbage-collection time (bench:import).
// The project's tsconfig (decorators), whatever the working directory.
process.env.SWC_NODE_PROJECT ??= require("node:path").join(__dirname, "..", "tsconfig.json");
require("@swc-node/register");
require("../src/cli/main.ts");
