// The benchmark's command line (packages/cli/bench/options.mjs). `npm run bench -- --help`
// used to start the full run, which rewrites docs/benchmarks.*: unknown options were ignored.
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
// @ts-expect-error: the benchmark is plain JavaScript (bench/ is not compiled).
import { ALL_SECTIONS, BenchUsageError, parseBenchArgs } from "../bench/options.mjs";

describe("the benchmark's options", () => {
  it("refuses an unknown option, a missing value, an unknown section and two modes", () => {
    for (const argv of [
      ["--hlep"],
      ["quick"],
      ["--out"],
      ["--only", "ram,foo"],
      ["--quick", "--smoke"],
    ])
      expect(() => parseBenchArgs(argv), argv.join(" ")).toThrow(BenchUsageError);
  });

  it("--help asks for the usage only", () => {
    expect(parseBenchArgs(["--help"]).help).toBe(true);
    expect(parseBenchArgs([]).help).toBe(false);
  });

  it("runs everything in full mode into docs/ by default, and quick mode into the temp dir", () => {
    const full = parseBenchArgs([]);
    expect(full).toMatchObject({
      mode: "full",
      quick: false,
      smoke: false,
      sections: ALL_SECTIONS,
    });
    expect(full.outDir).toMatch(/[/\\]docs[/\\]?$/);
    expect(parseBenchArgs(["--quick"])).toMatchObject({
      mode: "quick",
      outDir: join(tmpdir(), "mdevkit-bench-quick"),
    });
    expect(parseBenchArgs(["--smoke", "--out", "x"])).toMatchObject({
      mode: "smoke",
      quick: true,
      outDir: "x",
    });
  });

  it("takes the sections to run and the files to render from", () => {
    expect(parseBenchArgs(["--only", "ram,devices"]).sections).toEqual(["ram", "devices"]);
    expect(parseBenchArgs(["--from", "a.json,b.json"]).from).toEqual(["a.json", "b.json"]);
    expect(parseBenchArgs([]).from).toBeUndefined();
  });
});
