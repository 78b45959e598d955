import { cpus } from "node:os";

/** "2 × AMD EPYC, Node v20.20.2, linux" — what a report names as the machine. */
export function machineDescription(): string {
  const list = cpus();
  return `${list.length} × ${list[0]?.model.trim() ?? "unknown CPU"}, Node ${process.version}, ${process.platform}`;
}
