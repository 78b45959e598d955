import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

let collect: (() => void) | undefined;
let scheduled = false;

/**
 * Has the runtime collect garbage soon, so the guest RAM of a refused or failed migration
 * goes back to the OS now. Guest RAM is SharedArrayBuffers, freed only by a GC, and an
 * idle listener allocates nothing that would trigger one: without this, every failed
 * 2 GiB migration stayed resident until the next one.
 *
 * Runs on a later turn of the event loop, once the failed session's stack and promise
 * handlers no longer reach the memory. `gc` is exposed at run time (the usual V8 flag),
 * so the command needs no special node options.
 */
export function reclaimMemory(): void {
  if (scheduled) return;
  scheduled = true;
  setImmediate(() => {
    scheduled = false;
    collector()();
  });
}

function collector(): () => void {
  if (collect === undefined) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (exposed !== undefined) collect = exposed;
    else {
      setFlagsFromString("--expose-gc");
      collect = runInNewContext("gc") as () => void;
    }
  }
  return collect;
}
