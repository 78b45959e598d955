import { type Cell, type CellResult } from "./cell.js";
import { FAULTS } from "./faults.js";
import { PHASES } from "./phases.js";
import { PLUGINS, type PluginName } from "./vm-configs.js";

/** Names from a comma-separated environment variable, or every one of `all`. */
function pick<T extends string>(all: readonly T[], env: string | undefined): T[] {
  if (env === undefined || env.trim() === "") return [...all];
  const wanted = env.split(",").map((s) => s.trim());
  const unknown = wanted.filter((w) => !all.includes(w as T));
  if (unknown.length > 0)
    throw new Error(`unknown ${unknown.join(", ")}; known: ${all.join(", ")}`);
  return all.filter((a) => wanted.includes(a));
}

/**
 * The cells to run. `full`: every fault × phase × plugin. `reduced` (CI): every phase
 * with two faults, so that the 16 cells cover each fault and each phase at least once,
 * and each phase runs with one plugin (rotating, so each plugin serves two phases).
 * FAULTS_FAULTS, FAULTS_PHASES and FAULTS_PLUGINS (comma-separated names) narrow either;
 * `cells` runs exactly the cells FAULTS_CELLS lists.
 */
export function selectCells(
  size: "full" | "reduced" | "cells",
  env: NodeJS.ProcessEnv = process.env,
): Cell[] {
  const faults = pick(
    FAULTS.map((f) => f.name),
    env["FAULTS_FAULTS"],
  );
  const phases = pick(
    PHASES.map((p) => p.name),
    env["FAULTS_PHASES"],
  );
  const plugins = pick<PluginName>(PLUGINS, env["FAULTS_PLUGINS"]);
  const cells: Cell[] = [];
  if (size === "cells") {
    // FAULTS_CELLS="fault@phase@plugin,…": exactly these cells (to re-run a few).
    for (const spec of (env["FAULTS_CELLS"] ?? "").split(",").filter((s) => s.trim() !== "")) {
      const [f, p, plugin] = spec.trim().split("@");
      const fault = FAULTS.find((x) => x.name === f);
      const phase = PHASES.find((x) => x.name === p);
      if (!fault || !phase || !PLUGINS.includes(plugin as PluginName))
        throw new Error(`FAULTS_CELLS: "${spec}" is not fault@phase@plugin`);
      cells.push({ fault, phase, plugin: plugin as PluginName });
    }
    return cells;
  }
  if (size === "full") {
    // Plugin by plugin, so a run stopped early holds whole fault × phase tables.
    for (const plugin of plugins)
      for (const phase of PHASES)
        for (const fault of FAULTS)
          if (phases.includes(phase.name) && faults.includes(fault.name))
            cells.push({ fault, phase, plugin });
    return cells;
  }
  PHASES.forEach((phase, p) => {
    if (!phases.includes(phase.name)) return;
    FAULTS.forEach((fault, f) => {
      if (!faults.includes(fault.name)) return;
      if (f !== (2 * p) % FAULTS.length && f !== (2 * p + 1) % FAULTS.length) return;
      const plugin = plugins[p % plugins.length] as PluginName;
      cells.push({ fault, phase, plugin });
    });
  });
  return cells;
}

/** The matrix as a Markdown table: rows fault, columns phase, cell "passed/runs". */
export function matrixTable(results: readonly CellResult[]): string {
  const phases = PHASES.map((p) => p.name).filter((p) => results.some((r) => r.phase === p));
  const faults = FAULTS.map((f) => f.name).filter((f) => results.some((r) => r.fault === f));
  const lines = [`| fault | ${phases.join(" | ")} |`, `|---|${phases.map(() => "---").join("|")}|`];
  for (const fault of faults) {
    const cells = phases.map((phase) => {
      const runs = results.filter((r) => r.fault === fault && r.phase === phase);
      if (runs.length === 0) return "–";
      const passed = runs.filter((r) => r.problems.length === 0).length;
      return `${passed}/${runs.length}`;
    });
    lines.push(`| ${fault} | ${cells.join(" | ")} |`);
  }
  const passed = results.filter((r) => r.problems.length === 0).length;
  lines.push("", `${passed}/${results.length} cells passed`);
  return lines.join("\n");
}

/** One line per outcome kind with its count: what the faults actually did. */
export function outcomeCounts(results: readonly CellResult[]): string {
  const counts = new Map<string, number>();
  for (const r of results) {
    const kind = r.outcome.replace(/ \(.*\)$/, "");
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${n} × ${k}`).join("\n");
}
