import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // A turn of the event loop after each test (see the file).
    setupFiles: ["test/helpers/yield.ts"],
    // At least two test processes, also on two cores (vitest's default there is one): much of the
    // suite waits on child processes (the built CLI, redis-server, workers, chromium), so two halve
    // the wall time (about 9 minutes to 5 on the 2-core CI machine) for the same CPU time.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    // The JSON report feeds .ci/run's "tests: N passed, M failed" line.
    reporters: ["default", ["json", { outputFile: ".vitest-report.json" }]],
  },
});
