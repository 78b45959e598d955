// Baseline for the migration benchmark: the same number of bytes through a bare socket
// between two processes, in 1 MiB writes — what the link does with no migration logic.
// The receiver reads into one reused 1 MiB buffer, as mdevkit's target does. With a fresh
// buffer per read (Node's `data` events, as before 2026-12-03 22:45 UTC) the same 1.6 GB
// took a median 1.18 times as long, and 2.1 times with guest memory at both ends, whose
// receiver holds a large region and page-faulted its read buffers again after collections
// (6 interleaved rounds).
// With a pre-shared key, the socket is TLS with the caller's cipher suites (mdevkit's):
// what the encrypted link does. With `guestMemory`, the sender reads the bytes out of a
// region as large as them and the receiver copies each read into another region: what
// moving guest RAM costs before any migration logic (the plain baseline sends one hot
// 1 MiB buffer over and over and keeps nothing it receives).
// Imports nothing but Node's own modules, so that the receiver's heap is Node's alone.
import { fork } from "node:child_process";
import { createHash, randomFillSync } from "node:crypto";
import net from "node:net";
import tls from "node:tls";

const PSK_IDENTITY = "bench";

if (process.argv[2] === "tls-receiver") {
  const want = Number(process.argv[3]);
  const key = Buffer.from(process.argv[4], "hex");
  const ciphers = process.argv[5];
  const server = tls.createServer({ ciphers, pskCallback: () => key }, (sock) => {
    let got = 0;
    sock.on("data", (d) => {
      got += d.length;
      if (got >= want) {
        sock.end("done");
        server.close();
      }
    });
  });
  server.listen(0, "127.0.0.1", () => process.send?.(server.address().port));
} else if (process.argv[2] === "tcp-receiver") {
  const [want, port] = process.argv.slice(3, 5).map(Number);
  const flags = process.argv.slice(5);
  receive(want, port, flags.includes("memory"), flags.includes("check"));
} else if (process.argv[1] === new URL(import.meta.url).pathname) {
  const bytes = Number(process.argv[2] ?? 2 ** 31);
  console.log(JSON.stringify(await bareSocket(bytes)));
}

/**
 * The plain TCP receiver: connects to the sender at `port` — Node 20 reads into a caller's
 * buffer (`onread`) only on sockets it connects, not on ones a server accepts — and, with
 * `memory`, copies each read into a backed region of `want` bytes, as a migration target
 * does. Writes "done" when every byte is in, then, with `check`, the region's SHA-256.
 */
function receive(want, port, memory, check) {
  const region = memory ? touched(Buffer.alloc(want)) : undefined;
  let got = 0;
  const sock = net.connect({
    port,
    host: "127.0.0.1",
    onread: {
      buffer: Buffer.alloc(1 << 20),
      callback: (n, buf) => {
        // The sender writes whole 1 MiB chunks, so bytes may still arrive after `want`.
        if (got >= want) return;
        region?.set(buf.subarray(0, Math.min(n, want - got)), got);
        got += n;
        if (got >= want) {
          sock.write("done");
          sock.end(region && check ? sha256(region) : undefined);
        }
      },
    },
  });
}

/**
 * Writes to each 4 KiB page of `region` so the OS backs it before any clock starts (a
 * fresh allocation is only reserved; on our VMs a first touch costs microseconds a page).
 */
function touched(region) {
  for (let at = 0; at < region.length; at += 4096) region[at] = 1;
  return region;
}

/**
 * Sends `bytes` through a bare loopback socket to a child process; returns the rate. With
 * `pskHex` (a pre-shared key, hex) and `ciphers` the socket is TLS, its handshake before
 * the clock starts. With `guestMemory`, the bytes come out of a region of `bytes` filled
 * with random data and go into another in the receiver, both backed before the clock
 * starts: a memory-to-memory transfer, as a migration's, instead of one hot buffer's; with
 * `check` as well, `intact` says whether the receiver's region ended up equal to the source.
 */
export async function bareSocket(
  bytes,
  { pskHex, ciphers, guestMemory = false, check = false } = {},
) {
  const source = guestMemory ? randomRegion(bytes) : undefined;
  const { child, sock } = pskHex
    ? await connectToTlsReceiver(bytes, pskHex, ciphers)
    : await acceptReceiver(bytes, [...(source ? ["memory"] : []), ...(check ? ["check"] : [])]);
  const chunk = Buffer.alloc(1 << 20, 0x5a);
  // With `check`, everything the receiver answers: "done", then its region's SHA-256.
  const reply = [];
  const replied =
    source && check
      ? new Promise((r) => sock.on("data", (d) => reply.push(d)).once("end", r))
      : undefined;
  const t0 = performance.now();
  const done = new Promise((r) => sock.once("data", r));
  for (let sent = 0; sent < bytes; sent += chunk.length) {
    const next = source ? source.subarray(sent, sent + chunk.length) : chunk;
    if (!sock.write(next)) await new Promise((r) => sock.once("drain", r));
  }
  await done;
  const ms = performance.now() - t0;
  const protocol = pskHex ? sock.getProtocol() : undefined;
  let intact;
  if (replied) {
    await replied;
    intact = Buffer.concat(reply).toString() === `done${sha256(source)}`;
  }
  sock.destroy();
  child.kill();
  return {
    bytes,
    ms,
    bytesPerSecond: (bytes / ms) * 1000,
    ...(protocol ? { protocol } : { readBuffer: "reused" }),
    ...(intact === undefined ? {} : { intact }),
  };
}

/** Forks the TLS receiver, which listens, and connects to it. */
async function connectToTlsReceiver(bytes, pskHex, ciphers) {
  const child = fork(new URL(import.meta.url).pathname, [
    "tls-receiver",
    String(bytes),
    pskHex,
    ciphers,
  ]);
  const port = await new Promise((r) => child.once("message", r));
  const sock = tls.connect({
    port,
    host: "127.0.0.1",
    ciphers,
    pskCallback: () => ({ psk: Buffer.from(pskHex, "hex"), identity: PSK_IDENTITY }),
    checkServerIdentity: () => undefined,
  });
  await new Promise((r) => sock.once("secureConnect", r));
  return { child, sock };
}

/** Listens, forks the TCP receiver with `flags`, and takes its connection (its region backed). */
async function acceptReceiver(bytes, flags) {
  const server = net.createServer();
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const child = fork(new URL(import.meta.url).pathname, [
    "tcp-receiver",
    String(bytes),
    String(server.address().port),
    ...flags,
  ]);
  try {
    const sock = await new Promise((resolve, reject) => {
      server.once("connection", resolve);
      child.once("exit", (code) =>
        reject(new Error(`the receiver exited (${code}) before it connected`)),
      );
    });
    return { child, sock };
  } catch (err) {
    child.kill();
    throw err;
  } finally {
    server.close();
  }
}

const sha256 = (data) => createHash("sha256").update(data).digest("hex");

/** `bytes` of random data in one region, every page backed. */
function randomRegion(bytes) {
  const region = Buffer.allocUnsafeSlow(bytes);
  for (let at = 0; at < bytes; at += 64 * 2 ** 20)
    randomFillSync(region.subarray(at, Math.min(bytes, at + 64 * 2 ** 20)));
  return region;
}

/** Bare-socket runs per baseline at most: the first and two more. */
export const BASELINE_ATTEMPTS = 3;

/**
 * A baseline for an mdevkit run that took `mdevkitMs`: `measure()` (a bare-socket run,
 * resolving with its `ms`) is run again, up to {@link BASELINE_ATTEMPTS} runs in all, while
 * every run so far was slower than mdevkit — a link is never slower than a migration over
 * it, so such a run measured a disturbed machine rather than the link. Resolves with the
 * fastest run, which can only make mdevkit's ratio stricter, and every run's time in
 * `attemptsMs`. `onSlow(ms)` hears of each run measured again. With `mdevkitMs` undefined
 * (mdevkit failed) one run is made.
 */
export async function fastestBaseline(measure, mdevkitMs, onSlow = () => {}) {
  const runs = [await measure()];
  const fastest = () => runs.reduce((a, b) => (b.ms < a.ms ? b : a));
  while (runs.length < BASELINE_ATTEMPTS && fastest().ms > mdevkitMs) {
    onSlow(fastest().ms);
    runs.push(await measure());
  }
  return { ...fastest(), attemptsMs: runs.map((r) => r.ms) };
}
