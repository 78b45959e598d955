#!/usr/bin/env node
// The CLI's entry point. The young generation is pinned before any large module is even
// parsed (static imports would all load first, so the rest is imported dynamically), and
// tsyringe needs the Reflect metadata API before any decorated class is defined.
import { keepYoungGenerationSmall } from "../dist/young-generation.js";

keepYoungGenerationSmall();
await import("reflect-metadata");
await import("../dist/main.js");
