#!/usr/bin/env node
// The CLI's entry point. V8 is tuned before any large module is even parsed (static imports
// would all load first, so the rest is imported dynamically): the young generation pinned,
// and functions compiled as their modules load. tsyringe needs the Reflect metadata API
// before any decorated class is defined. A load that fails for want of file descriptors
// says so in one line, not as a module "not found" with Node's stack.
import { compileEagerly } from "../dist/eager-compile.js";
import { openFileLimit, openFileLimitProblem } from "../dist/open-file-limit.js";
import { keepYoungGenerationSmall } from "../dist/young-generation.js";

keepYoungGenerationSmall();
compileEagerly();
// Read now: once loading has run out of descriptors, reading it would fail too.
const openFiles = openFileLimit();
try {
  await import("reflect-metadata");
  await import("../dist/main.js");
} catch (err) {
  const problem = openFileLimitProblem(err, openFiles);
  if (problem === undefined) throw err;
  process.stderr.write(`mdevkit: ${problem}\n`);
  process.exit(1);
}
