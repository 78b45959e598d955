export { ERRNO, type Errno } from "./errno.js";
export { MdevError, isMdevError, type MdevErrorOptions } from "./mdev-error.js";
export { FsmError } from "./fsm-error.js";
export { PluginRegistrationError } from "./plugin-registration-error.js";
