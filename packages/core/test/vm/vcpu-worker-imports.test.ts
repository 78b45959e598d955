import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), "../../src");

/**
 * Every module a source file loads at run time, following relative imports (`import type`
 * is erased by the compiler and loads nothing) and listing bare package specifiers as-is.
 */
function runtimeGraph(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, "utf8");
    // `import … from "x"`, `export … from "x"`, and side-effect `import "x"`.
    const statements = /^(?:(?:import|export)\s+(type\s+)?[^;"]*?from\s+|import\s+)"([^"]+)";/gms;
    for (const m of text.matchAll(statements)) {
      const [, typeOnly, spec] = m;
      if (typeOnly !== undefined || spec === undefined) continue;
      if (spec.startsWith(".")) visit(resolve(dirname(file), spec.replace(/\.js$/, ".ts")));
      else seen.add(spec);
    }
  };
  visit(entry);
  return seen;
}

describe("the vCPU worker's module graph", () => {
  // Each worker loads its modules afresh, and a target without threads started ahead
  // (VcpuThreads) starts its vCPUs while a migration runs; zod alone costs about 120 ms of
  // CPU there.
  it("does not load zod", () => {
    const graph = runtimeGraph(resolve(SRC, "vm/vcpu-worker.ts"));
    expect(graph.has(resolve(SRC, "memory/guest-memory.ts"))).toBe(true);
    expect([...graph].filter((m) => m === "zod" || m.startsWith("zod/"))).toEqual([]);
  });
});
