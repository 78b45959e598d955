// The benchmark's command line (`npm run bench -- …`), parsed strictly: an unknown or
// mistyped option must stop the run, not start a full one that rewrites docs/.
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

/** Sections in the order they run; the report is rewritten after each one. */
export const ALL_SECTIONS = [
  "sideBySide",
  "seed",
  "dirtying",
  "ram",
  "devices",
  "dirtyRate",
  "dirtyLog",
];

export const USAGE = `Usage: npm run bench -- [--quick | --smoke] [--out DIR] [--only SECTIONS] [--from FILES]
  (default)       the full run, written to docs/ of the repository (about 9 minutes)
  --quick         smaller VMs and fewer runs (under 2 minutes on a 2-core machine), written
                  to $TMPDIR/mdevkit-bench-quick unless --out is given
  --smoke         tiny VMs, one run each: checks the harness, measures nothing worth keeping
  --out DIR       where benchmarks.{md,json,html} go
  --only a,b      run only these sections: ${ALL_SECTIONS.join(", ")}
  --from a.json[,b.json]
                  measure nothing: render the report again from saved results, adding the
                  sections of later files to the first's
  --help          this text`;

/** A command line the benchmark refuses; `main` prints it with the usage. */
export class BenchUsageError extends Error {}

/**
 * The options of `argv` (without node and the script): the mode, the output directory, the
 * sections to run and the files to render from. `help` asks for the usage only.
 * @throws BenchUsageError for an unknown option, a missing value or an unknown section.
 */
export function parseBenchArgs(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        quick: { type: "boolean" },
        smoke: { type: "boolean" },
        out: { type: "string" },
        only: { type: "string" },
        from: { type: "string" },
        help: { type: "boolean" },
      },
    }));
  } catch (err) {
    throw new BenchUsageError(err.message);
  }
  if (values.quick && values.smoke) throw new BenchUsageError("--quick and --smoke: choose one");
  const sections = values.only === undefined ? ALL_SECTIONS : values.only.split(",");
  for (const s of sections)
    if (!ALL_SECTIONS.includes(s))
      throw new BenchUsageError(`--only: no section "${s}" (${ALL_SECTIONS.join(", ")})`);
  const smoke = values.smoke === true;
  const quick = smoke || values.quick === true;
  return {
    help: values.help === true,
    smoke,
    quick,
    mode: smoke ? "smoke" : quick ? "quick" : "full",
    outDir:
      values.out ??
      (quick
        ? join(tmpdir(), "mdevkit-bench-quick")
        : fileURLToPath(new URL("../../../docs/", import.meta.url))),
    sections,
    from: values.from?.split(","),
  };
}
