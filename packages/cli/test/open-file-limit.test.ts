// A hard open-file limit too low to load the CLI (Node raises the soft one to it at start):
// the CLI says so in one line. Before, at 128 or less Node's loader reported the first
// module file it could not open as "Cannot find package" with a stack trace, and at 140 an
// EMFILE with one.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { MDEVKIT_BIN } from "../src/child.js";
import { openFileLimit, openFileLimitProblem } from "../src/open-file-limit.js";

/** `mdevkit --version` under `ulimit` flags. */
function versionUnder(ulimit: string) {
  return spawnSync(
    "/bin/sh",
    ["-c", `ulimit ${ulimit} && exec "$0" "$1" --version`, process.execPath, MDEVKIT_BIN],
    { encoding: "utf8", timeout: 60_000, env: { ...process.env, NODE_OPTIONS: "" } },
  );
}

describe.skipIf(process.platform !== "linux")("the CLI at a low open-file limit", () => {
  it.each([64, 100])("says in one line that a limit of %i is too low, with no stack", (limit) => {
    const run = versionUnder(`-n ${limit}`);
    expect(run.status).toBe(1);
    expect(run.stderr).toBe(
      `mdevkit: EMFILE: too many open files to load mdevkit's modules (open files limit ${limit}, hard limit ${limit}); it needs about 200: raise the limit (ulimit -n 200) and run it again\n`,
    );
  });
});

describe("openFileLimit", () => {
  it.skipIf(process.platform !== "linux")("reads this process's limits", () => {
    const limit = openFileLimit();
    expect(limit?.soft).toBeGreaterThan(0);
    expect(limit?.hard).toBeGreaterThanOrEqual(limit?.soft as number);
  });

  it("is undefined where the limits file is missing", () => {
    expect(openFileLimit("/nonexistent/limits")).toBeUndefined();
  });
});

describe("openFileLimitProblem", () => {
  const low = { soft: 100, hard: 100 };
  const enough = { soft: 1024, hard: 4096 };
  const notFound = Object.assign(new Error("Cannot find package 'x'"), {
    code: "ERR_MODULE_NOT_FOUND",
  });
  const emfile = Object.assign(new Error("EMFILE: too many open files"), { code: "EMFILE" });

  it("blames the limit for EMFILE, and for a module not found only under a low limit", () => {
    expect(openFileLimitProblem(emfile, enough)).toMatch(/^EMFILE: .*limit 1024, hard limit 4096/);
    expect(openFileLimitProblem(emfile, undefined)).toMatch(/^EMFILE: too many open files/);
    expect(openFileLimitProblem(notFound, low)).toMatch(/limit 100, hard limit 100/);
    // A module truly missing (a broken install) keeps its own error.
    expect(openFileLimitProblem(notFound, enough)).toBeUndefined();
    expect(openFileLimitProblem(notFound, undefined)).toBeUndefined();
    expect(openFileLimitProblem(new TypeError("x"), low)).toBeUndefined();
    expect(openFileLimitProblem(undefined, low)).toBeUndefined();
  });
});
