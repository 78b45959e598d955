export { DmaFaultError, type DmaFaultReason } from "./dma-fault-error.js";
export { ERRNO, type Errno, errnoOf } from "./errno.js";
export { FsmError } from "./fsm-error.js";
export { detailOf, isMdevError, MdevError, type MdevErrorOptions } from "./mdev-error.js";
export { PEER_TEXT_MAX_CHARS, quotePeerText } from "./peer-text.js";
export { PluginNotLoadedError } from "./plugin-not-loaded-error.js";
export { PluginRegistrationError } from "./plugin-registration-error.js";
export { type StreamErrno, StreamError } from "./stream-error.js";
