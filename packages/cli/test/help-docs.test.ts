// Every option `mdevkit COMMAND --help` shows is one users may reach for, so docs/cli.md
// names it; an option meant only for the test harnesses is hidden from --help instead.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildProgram } from "../src/program.js";

const CLI_DOC = readFileSync(new URL("../../../docs/cli.md", import.meta.url), "utf8");

describe("docs/cli.md and --help", () => {
  it("names every option --help shows, for every command", () => {
    const missing: string[] = [];
    for (const cmd of buildProgram().commands) {
      for (const option of cmd.options) {
        const flag = option.long;
        if (option.hidden || flag === undefined) continue;
        // The flag as a word of its own: `--json` is not found inside `--json-file`.
        const named = new RegExp(`(^|[\\s\`(])${flag}(?![\\w-])`, "m");
        if (!named.test(CLI_DOC)) missing.push(`${cmd.name()} ${flag}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it("migrate --help shows --peer-timeout, which the deadlines section tells users about", () => {
    const migrate = buildProgram().commands.find((c) => c.name() === "migrate");
    expect(migrate?.helpInformation()).toContain("--peer-timeout <ms>");
    expect(CLI_DOC).toMatch(/`--peer-timeout` \(default 30 s\)/);
  });
});
