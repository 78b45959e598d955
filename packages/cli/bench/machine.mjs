// What the benchmark ran on: CPU model, cores, RAM, Node, date, load — printed with every
// figure because this machine is shared and its speed varies from hour to hour.
import { readFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { describePageRoutines, GuestMemory } from "@mdevkit/core";

/** The CPU model from /proc/cpuinfo (Node's `os.cpus()` as a fallback). */
function cpuModel() {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (m?.[1]) return m[1].trim();
  } catch {
    // Not Linux: os.cpus() below.
  }
  return cpus()[0]?.model.trim() ?? "unknown CPU";
}

/** Bytes of RAM the kernel could give a new process now (MemAvailable), or NaN. */
export function memAvailable() {
  try {
    const m = /^MemAvailable:\s+(\d+) kB$/m.exec(readFileSync("/proc/meminfo", "utf8"));
    return m ? Number(m[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/**
 * How guest RAM is backed here: transparent huge pages when core's addon can advise them,
 * with the host's setting (`never` there keeps 4 KiB pages whatever the advice).
 */
function guestRamPages() {
  let host = "unknown";
  try {
    host =
      /\[(\w+)\]/.exec(readFileSync("/sys/kernel/mm/transparent_hugepage/enabled", "utf8"))?.[1] ??
      host;
  } catch {
    // Not Linux, or no THP: the advice below is refused too.
  }
  // Large enough to be advised (small guests are not), and never touched: nothing is backed.
  return GuestMemory.create({ size: 64 * 2 ** 20 }).hugePages
    ? `advised to transparent huge pages (the host's setting: ${host})`
    : "4 KiB pages (huge pages cannot be advised here)";
}

/** The machine, as the report prints it. */
export function describeMachine() {
  return {
    cpu: cpuModel(),
    cores: cpus().length,
    ramBytes: totalmem(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    date: new Date().toISOString(),
    loadAverage: loadavg(),
    // The addon or its JavaScript fallback: the RAM path's speed depends on which.
    pageRoutines: describePageRoutines(),
    // Fresh 4 KiB pages fault in slowly on our VMs' hosts (see docs/benchmark-history.md).
    guestRam: guestRamPages(),
  };
}

/** The 1-minute load average now. */
export const load1 = () => loadavg()[0] ?? Number.NaN;
