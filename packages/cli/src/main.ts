import { CommanderError } from "commander";
import { buildProgram } from "./program.js";

const program = buildProgram();
try {
  await program.parseAsync(process.argv);
  // Workers and sockets are unref'd or closed; exit explicitly so a stray handle cannot hang the CLI.
  process.exit(0);
} catch (err) {
  // --help and --version end parsing by throwing too; they are not failures.
  if (err instanceof CommanderError && err.exitCode === 0) process.exit(0);
  const verbose = program.opts<{ verbose?: boolean }>().verbose === true;
  const message =
    err instanceof CommanderError
      ? `EINVAL: ${err.message.replace(/^error: /, "")} (see mdevkit help)`
      : err instanceof Error
        ? err.message
        : String(err);
  process.stderr.write(`mdevkit: ${message}\n`);
  if (verbose && err instanceof Error) {
    process.stderr.write(`${err.stack ?? ""}\n`);
    if (err.cause)
      process.stderr.write(`caused by: ${String((err.cause as Error).stack ?? err.cause)}\n`);
  }
  process.exit(1);
}
