// The CLI compiles functions as their modules load (issue #13: a plugin's first stop, save
// and load must not compile inside the paused window). V8 flags are per process, so the
// effect is measured in child processes.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { compileEagerly, compileLazilyFromHere } from "../src/eager-compile.js";

const DIST = fileURLToPath(new URL("../dist/", import.meta.url));

/**
 * Heap (KiB) held by 10,000 uncalled functions loaded after the CLI's setting: eagerly
 * compiled ones carry their bytecode, lazily compiled ones only what the pre-parser keeps.
 */
function uncalledFunctionsKiB(eager: boolean, thenLazy = false): number {
  const setting = `const { compileEagerly, compileLazilyFromHere } = await import(${JSON.stringify(`${DIST}eager-compile.js`)}); compileEagerly(); ${thenLazy ? "compileLazilyFromHere();" : ""}`;
  const script = `
    import v8 from "node:v8";
    import { createRequire } from "node:module";
    ${eager ? setting : ""}
    const names = Array.from({ length: 10000 }, (_, i) => "f" + i);
    const source = names.map((n, i) => "function " + n + "(a, b) { let s = 0; for (let k = 0; k < a; k++) { s += k * b + " + i + "; if (s > b) s -= a * " + i + "; } return s; }").join("\\n") + "\\nmodule.exports = [" + names.join(",") + "];";
    const Module = createRequire(import.meta.url)("node:module");
    globalThis.gc();
    const before = v8.getHeapStatistics().used_heap_size;
    const m = new Module("uncalled.js");
    m._compile(source, "uncalled.js");
    globalThis.gc();
    process.stdout.write(String((v8.getHeapStatistics().used_heap_size - before) / 1024));
  `;
  const out = execFileSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", script], {
    env: { ...process.env, NODE_OPTIONS: "" },
  });
  return Number(out.toString());
}

describe("compileEagerly", () => {
  it("makes V8 compile the functions of modules loaded afterwards before they are called", () => {
    const lazy = uncalledFunctionsKiB(false);
    const eager = uncalledFunctionsKiB(true);
    // About 1,880 KiB against 4,320 KiB on Node 20, within ±30 KiB run to run alone and a
    // few hundred KiB more for either under load.
    expect(lazy).toBeGreaterThan(500);
    expect(eager).toBeGreaterThan(1.5 * lazy);
  });

  it("leaves compilation alone when the user chose", () => {
    expect(compileEagerly(["--lazy"], undefined)).toBe(false);
    expect(compileEagerly([], "--trace-gc --no-lazy")).toBe(false);
    expect(compileEagerly(["--no_lazy"], undefined)).toBe(false);
    // Nothing this module set, so nothing to undo: the user's --no-lazy stands.
    expect(compileLazilyFromHere()).toBe(false);
  });
});

describe("compileLazilyFromHere", () => {
  it("makes V8 compile lazily again what loads afterwards (the vCPU threads' code)", () => {
    const lazy = uncalledFunctionsKiB(false);
    const relaxed = uncalledFunctionsKiB(true, true);
    expect(relaxed).toBeLessThan(1.25 * lazy);
    expect(uncalledFunctionsKiB(true)).toBeGreaterThan(1.5 * relaxed);
  });
});
