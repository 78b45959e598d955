// `migrate` option values that cannot work are refused with the other option checks, before the
// VM is built: a --switchover-timeout the pause could never meet (#14 item 2), a
// --format-version this build does not write.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { MDEVKIT_BIN } from "../src/child.js";

function mdevkit(args: readonly string[]) {
  return spawnSync(process.execPath, [MDEVKIT_BIN, ...args], { encoding: "utf8", timeout: 60_000 });
}

/**
 * `migrate` with `options`, and a VM config that does not exist: refused before the VM is
 * built, the only line on stderr is the option's error.
 */
function refusedBeforeTheVm(options: readonly string[]): string[] {
  const run = mdevkit([
    "migrate",
    "--to",
    "tcp://127.0.0.1:1",
    "--config",
    "/nonexistent/vm.json",
    ...options,
  ]);
  expect(run.status).toBe(1);
  return run.stderr.trim().split("\n");
}

describe("migrate --switchover-timeout", () => {
  it("at or below --downtime-limit: one EINVAL line, before the VM config is even read", () => {
    expect(refusedBeforeTheVm(["--downtime-limit", "5s", "--switchover-timeout", "5s"])).toEqual([
      "mdevkit: EINVAL: invalid migration options: switchoverTimeoutMs: must exceed downtimeLimitMs (the pause it bounds includes the downtime)",
    ]);
  });

  it("a value that is not a duration is refused naming it", () => {
    const run = mdevkit(["migrate", "--to", "tcp://127.0.0.1:1", "--switchover-timeout", "soon"]);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/duration "soon" is not like 300ms or 2s/);
  });
});

describe("migrate --format-version", () => {
  it("outside what this build writes: one EINVAL line, before the VM config is read", () => {
    expect(refusedBeforeTheVm(["--format-version", "6"])).toEqual([
      `mdevkit: EINVAL: option '--format-version <n>' argument '6' is invalid. format version "6" is not one this build writes (2..5) (see mdevkit help)`,
    ]);
  });
});
