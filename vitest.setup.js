// Loaded before every test file of every workspace package (vitest.shared.js): tsyringe
// needs the Reflect metadata API before any decorated class is defined. The one import of
// reflect-metadata for tests; the CLI's bin is the other entry point that loads it.
import "reflect-metadata";
