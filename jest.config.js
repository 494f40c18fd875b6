/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "<rootDir>/test/helpers/environment.js",
  roots: ["<rootDir>/test"],
  transform: { "^.+\\.ts$": ["@swc/jest"] },
  testTimeout: 120000,
  // PGlite runs in-process and is heavy; two workers fit this 2-core machine.
  maxWorkers: 2,
};
