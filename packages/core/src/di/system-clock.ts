import type { Clock } from "../contract/device-context.js";

/** The real monotonic clock (`process.hrtime`). */
export class SystemClock implements Clock {
  nowNs(): bigint {
    return process.hrtime.bigint();
  }
}
