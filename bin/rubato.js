#!/usr/bin/env node
// Runs the TypeScript sources directly through swc (decorator metadata included).
require("@swc-node/register");
require("../src/cli/main.ts");
