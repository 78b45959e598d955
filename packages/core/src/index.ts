import "reflect-metadata";

export * from "./contract/index.js";
export { SystemClock } from "./di/system-clock.js";
export { TOKENS } from "./di/tokens.js";
export * from "./engine/index.js";
export * from "./errors/index.js";
export * from "./fsm/index.js";
export { createHost, type HostOptions, type MdevHost } from "./host.js";
export * from "./memory/index.js";
export * from "./state/index.js";
export * from "./stream/index.js";
export * from "./transport/index.js";
export { ENGINE_VERSION } from "./version.js";
export * from "./vm/index.js";
