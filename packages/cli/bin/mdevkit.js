#!/usr/bin/env node
// The CLI's entry point. V8 is tuned before any large module is even parsed (static imports
// would all load first, so the rest is imported dynamically): the young generation pinned,
// and functions compiled as their modules load. tsyringe needs the Reflect metadata API
// before any decorated class is defined.
import { compileEagerly } from "../dist/eager-compile.js";
import { keepYoungGenerationSmall } from "../dist/young-generation.js";

keepYoungGenerationSmall();
compileEagerly();
await import("reflect-metadata");
await import("../dist/main.js");
