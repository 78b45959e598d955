// The CLI pins V8's young generation before it loads (issue #13: peak RSS ≤ guest RAM
// + 10 %). These tests run in child processes: V8 flags are per process, and the growth
// they prevent happens while modules load and garbage is made.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { keepYoungGenerationSmall } from "../src/young-generation.js";

const DIST = fileURLToPath(new URL("../dist/", import.meta.url));

/** Loads the whole CLI, makes short-lived garbage, and prints the new space's size (MiB). */
function newSpaceMiB(pin: boolean): number {
  const script = `
    import v8 from "node:v8";
    ${pin ? `const { keepYoungGenerationSmall } = await import(${JSON.stringify(`${DIST}young-generation.js`)}); keepYoungGenerationSmall();` : ""}
    await import("reflect-metadata");
    await import(${JSON.stringify(`${DIST}index.js`)});
    const keep = [];
    for (let i = 0; i < 200_000; i++) { keep.push({ i, s: String(i) }); if (keep.length > 5_000) keep.length = 0; }
    const s = v8.getHeapSpaceStatistics().find((x) => x.space_name === "new_space");
    process.stdout.write(String(s.space_size / 2 ** 20));
  `;
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    env: { ...process.env, NODE_OPTIONS: "" },
  });
  return Number(out.toString());
}

describe("keepYoungGenerationSmall", () => {
  it("keeps the new space at its initial size while the CLI loads and allocates", () => {
    // The control shows the measurement can see growth: without the pin it grows.
    expect(newSpaceMiB(false)).toBeGreaterThan(4);
    expect(newSpaceMiB(true)).toBeLessThanOrEqual(2);
  });

  it("leaves the young generation alone when the user sized it", () => {
    expect(keepYoungGenerationSmall(["--max-semi-space-size=64"], undefined)).toBe(false);
    expect(keepYoungGenerationSmall([], "--trace-gc --semi-space-growth-factor=4")).toBe(false);
    expect(keepYoungGenerationSmall([], "--min_semi_space_size=8")).toBe(false);
  });
});
