/**
 * Setup file of `mdevkitVitestConfig`: tsyringe needs the Reflect metadata API
 * before any decorated class is defined.
 * @module
 */
import "reflect-metadata";
