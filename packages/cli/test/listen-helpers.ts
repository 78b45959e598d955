// Real `mdevkit listen` processes and raw peers for the listener's tests: every child and
// socket is tracked so afterEach can end what a failed test left running.
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { ReturnPathEncoder, StreamEncoder } from "@mdevkit/core";
import { expect } from "vitest";
import { MdevkitChild } from "../src/child.js";

const children = new Set<MdevkitChild>();
const sockets = new Set<Socket>();

/** Kills every child still running and closes every raw socket (for afterEach). */
export async function cleanupListeners(): Promise<void> {
  for (const s of sockets) s.destroy();
  sockets.clear();
  await Promise.all(
    [...children].map(async (child) => {
      if (child.process.exitCode === null && child.process.signalCode === null) {
        child.kill();
        await child.exited;
      }
    }),
  );
  children.clear();
}

/** `mdevkit ARGS --events`, tracked for cleanup. */
export function spawnChild(args: readonly string[]): MdevkitChild {
  const child = new MdevkitChild(args);
  children.add(child);
  return child;
}

/** A `listen` child on an ephemeral loopback port that announced its address. */
export interface Listener {
  readonly child: MdevkitChild;
  readonly url: string;
  readonly port: number;
}

/** Starts `mdevkit listen ARGS` on `tcp://127.0.0.1:0` and waits until it listens. */
export async function startListener(args: readonly string[]): Promise<Listener> {
  const child = spawnChild(["listen", "--on", "tcp://127.0.0.1:0", ...args]);
  const { url } = await child.waitFor("listening", 120_000);
  return { child, url, port: Number(new URL(url).port) };
}

/** A raw TCP peer: what a stray client, a scanner or a hostile source is. */
export interface RawPeer {
  readonly socket: Socket;
  /** Every byte the listener sent back. */
  readonly received: () => Buffer;
  /** Settles when the listener (or we) closed the connection. */
  readonly closed: Promise<void>;
}

/** Connects a raw socket to `port` and waits until it is connected. */
export async function rawPeer(port: number): Promise<RawPeer> {
  const socket = connect({ port, host: "127.0.0.1" });
  sockets.add(socket);
  const chunks: Buffer[] = [];
  socket.on("data", (c: Buffer) => chunks.push(c));
  socket.on("error", () => {});
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("error", reject);
  });
  return { socket, received: () => Buffer.concat(chunks), closed };
}

/**
 * A stream header + HANDSHAKE for a device-less VM of `memoryMiB` (the name padded so the
 * message is about the size an attacker needs: 175 bytes for 2048 MiB).
 */
export function handshakeBytes(memoryMiB: number, vcpus = 1): Buffer {
  const config = { name: "x".repeat(38), memoryMiB, vcpus, initialFill: 0, seed: 7 };
  const bytes = new StreamEncoder().start({
    config: new TextEncoder().encode(JSON.stringify(config)),
    devices: [],
  });
  return Buffer.concat(bytes);
}

/**
 * Bytes a target sends back once it accepted a VM: the return path's header, then ACCEPT.
 * The header alone goes out before the VM is built (and its RAM prefaulted).
 */
export const ACCEPTED_BYTES = (() => {
  const encoder = new ReturnPathEncoder();
  return encoder.start(new Uint8Array(32)).length + encoder.message({ type: "ACCEPT" }).length;
})();

/** Waits until `peer` received at least `n` bytes (the return path's header and an answer). */
export async function receivedAtLeast(
  peer: RawPeer,
  n: number,
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (peer.received().length < n) {
    if (Date.now() > deadline) throw new Error(`only ${peer.received().length} bytes back`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A /proc/PID/status field in MiB (VmRSS now, VmHWM the peak). */
export function statusMiB(pid: number, field: "VmRSS" | "VmHWM"): number {
  return statusField(pid, field) / 1024;
}

/** A numeric /proc/PID/status field as the kernel prints it (kB for sizes). */
export function statusField(pid: number, field: string): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = new RegExp(`${field}:\\s+(\\d+)`).exec(status);
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]);
}

/** Waits for the `n`-th event of `type` from `child`. */
export async function nthEvent<T extends Parameters<MdevkitChild["waitFor"]>[0]>(
  child: MdevkitChild,
  type: T,
  n: number,
  timeoutMs = 120_000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = child.events.filter((e) => e.event === type);
    if (seen.length >= n) return seen[n - 1] as Extract<(typeof seen)[number], { event: T }>;
    if (child.process.exitCode !== null || Date.now() > deadline) {
      throw new Error(
        `${seen.length} "${type}" events, wanted ${n}; events:\n${child.events.map((e) => JSON.stringify(e)).join("\n")}`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** `mdevkit migrate` of a 16 MiB default VM to `url`, at once, with a generous downtime limit. */
export function migrateSmallVmArgs(url: string): string[] {
  return ["migrate", "--to", url, "--memory", "16", "--warmup", "0", "--downtime-limit", "30s"];
}

/**
 * Runs `mdevkit migrate` of a small VM to `url` and expects it (and its VM) to arrive. The
 * downtime limit is generous: these tests are about who gets to the target, and a loaded
 * machine can keep the dirtying default VM from converging within 300 ms.
 */
export async function migrateSmallVm(url: string): Promise<void> {
  const source = spawnChild(migrateSmallVmArgs(url));
  const code = await source.exited;
  expect(code, source.events.map((e) => JSON.stringify(e)).join("\n")).toBe(0);
  expect(source.events.some((e) => e.event === "result")).toBe(true);
}
