#!/usr/bin/env node
// The CLI's entry point: tsyringe needs the Reflect metadata API before any decorated class
// is defined, so it is loaded here, once, before the CLI's modules.
import "reflect-metadata";
import "../dist/main.js";
