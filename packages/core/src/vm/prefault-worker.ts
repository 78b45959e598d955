// Worker entry: touches every page of a guest so the OS backs it before pages arrive.
// Safe beside the thread that writes incoming pages: prefault writes with Atomics.add(0).
import { parentPort, workerData } from "node:worker_threads";
import { GuestMemory } from "../memory/guest-memory.js";

const memory = GuestMemory.fromLayout(workerData);
memory.prefault();
parentPort?.postMessage("done");
