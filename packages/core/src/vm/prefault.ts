import { Worker } from "node:worker_threads";
import type { GuestMemory } from "../memory/guest-memory.js";
import { workerUrl } from "./worker-url.js";

/**
 * Prefaults guest RAM in a worker thread, concurrently with whatever the caller does next
 * (a target receiving its first pages): first touch of fresh memory costs several times a
 * copy, and doing it up front keeps it off the downtime path. Resolves when done; never
 * rejects (a failed prefault only costs speed).
 */
export function prefaultInBackground(memory: GuestMemory): {
  done: Promise<void>;
  cancel: () => Promise<void>;
} {
  const worker = new Worker(workerUrl("prefault-worker", import.meta.url), {
    workerData: memory.layout,
  });
  worker.unref();
  const done = new Promise<void>((resolve) => {
    worker.once("exit", () => resolve());
    worker.once("error", () => resolve());
  });
  return {
    done,
    cancel: async () => {
      await worker.terminate();
    },
  };
}
