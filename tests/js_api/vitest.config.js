// lgp_lab: vendored from https://github.com/langchain-ai/langgraphjs
//   path:   libs/langgraph-api/vitest.config.js
//   commit: f8bdf16d4fe23a79e945ea5dc6f86bbf09abb77d
//   licence: MIT (see ./LICENSE)
import { defineConfig } from "vitest/config";

export default defineConfig(() => {
  /** @type {import("vitest/config").UserConfigExport} */
  return {
    test: {
      hideSkippedTests: true,
      testTimeout: 30_000,
      fileParallelism: false,
      // lgp_lab: only the vendored suite (upstream's folder holds other suites too).
      include: ["api.test.mts"],
    },
  };
});
