// Peers that must get nothing from a TLS listener: each connects as an attacker would,
// sends the opening of a migration that asks the target for a large VM, and records every
// byte the listener sends back until it closes the connection.
import { readFileSync } from "node:fs";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { defaultVmConfig } from "@mdevkit/cli";
import { StreamEncoder } from "@mdevkit/core";

/** What an intruder got: the bytes it received and how the connection ended. */
export interface IntrusionOutcome {
  /** Every byte received (decrypted, for a TLS peer that finished its handshake). */
  readonly received: Buffer;
  /** True when the TLS handshake completed on the intruder's side (TLS 1.3 clients may). */
  readonly handshakeDone: boolean;
  /** How it ended: the listener closed or refused it ("closed"), or it was still open. */
  readonly ended: "closed" | "still-open";
}

/**
 * A stream header and HANDSHAKE claiming a `memoryMiB` VM with no device: what a target
 * that trusted its peer would size (and prefault) guest RAM from.
 */
export function greedyHandshake(memoryMiB = 2048): Uint8Array {
  const config = new TextEncoder().encode(
    JSON.stringify({ ...defaultVmConfig(memoryMiB), devices: [] }),
  );
  return Buffer.concat(new StreamEncoder().start({ config, devices: [] }));
}

function hostPort(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port) };
}

/**
 * Collects what `socket` receives until it closes; destroys it after `timeoutMs` (the
 * listener is expected to close first: then the outcome says "closed").
 */
function outcome(
  socket: Socket,
  isDone: () => boolean,
  timeoutMs: number,
): Promise<IntrusionOutcome> {
  const chunks: Buffer[] = [];
  socket.on("data", (b: Buffer) => chunks.push(b));
  return new Promise((resolve) => {
    let ended: IntrusionOutcome["ended"] = "closed";
    const timer = setTimeout(() => {
      ended = "still-open";
      socket.destroy();
    }, timeoutMs);
    socket.on("error", () => undefined);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve({ received: Buffer.concat(chunks), handshakeDone: isDone(), ended });
    });
  });
}

/** Plain TCP to a TLS listener: sends `payload` in the clear. */
export function plainTcpPeer(
  url: string,
  payload: Uint8Array,
  timeoutMs = 30_000,
): Promise<IntrusionOutcome> {
  const socket = netConnect(hostPort(url));
  socket.once("connect", () => socket.write(payload));
  return outcome(socket, () => false, timeoutMs);
}

/**
 * A TLS client trusting `ca`, presenting `cert`/`key` when given (none otherwise); sends
 * `payload` once connected.
 */
export function certificatePeer(
  url: string,
  files: { cert?: string; key?: string; ca: string },
  payload: Uint8Array,
  timeoutMs = 30_000,
): Promise<IntrusionOutcome> {
  let done = false;
  const socket = tlsConnect({
    ...hostPort(url),
    ...(files.cert && files.key
      ? { cert: readFileSync(files.cert), key: readFileSync(files.key) }
      : {}),
    ca: readFileSync(files.ca),
    rejectUnauthorized: true,
  });
  socket.once("secureConnect", () => {
    done = true;
    socket.write(payload);
  });
  return outcome(socket, () => done, timeoutMs);
}

/** A TLS-PSK client holding `key` (hex file) under `identity`; sends `payload` once connected. */
export function pskPeer(
  url: string,
  pskFile: string,
  payload: Uint8Array,
  identity = "mdevkit",
  timeoutMs = 30_000,
): Promise<IntrusionOutcome> {
  let done = false;
  const psk = Buffer.from(readFileSync(pskFile, "latin1").trim(), "hex");
  const socket = tlsConnect({
    ...hostPort(url),
    ciphers: "ECDHE-PSK-CHACHA20-POLY1305:PSK-AES256-GCM-SHA384:PSK-AES128-GCM-SHA256",
    minVersion: "TLSv1.2",
    maxVersion: "TLSv1.2",
    pskCallback: () => ({ psk, identity }),
    checkServerIdentity: () => undefined,
  });
  socket.once("secureConnect", () => {
    done = true;
    socket.write(payload);
  });
  return outcome(socket, () => done, timeoutMs);
}

/** Resident memory of process `pid` in MiB (Linux /proc), or undefined elsewhere. */
export function rssMiB(pid: number | undefined): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}
