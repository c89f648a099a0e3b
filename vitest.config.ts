import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // The JSON report feeds .ci/run's "tests: N passed, M failed" line.
    reporters: ["default", ["json", { outputFile: ".vitest-report.json" }]],
  },
});
