// QEMU's migration of the RAM-static scenario, driven over QMP, for the side-by-side table:
// a TCG guest with no OS, `-m 2048`, a random 1.5 GiB blob loaded with `-device loader`
// (the rest of RAM zero), paused with `-S`; the target runs `-incoming tcp:… -mem-prealloc`.
// The target has no loader, so after the migration it holds the blob only if the migration
// brought it: its RAM is dumped (QMP `pmemsave`) and hashed against the blob.
import { spawn, spawnSync } from "node:child_process";
import { createCipheriv, createHash, randomBytes } from "node:crypto";
import { closeSync, createReadStream, openSync, rmSync, writeSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { peakRssKiB } from "./mdevkit-run.mjs";

const QEMU = process.env.MDEVKIT_BENCH_QEMU ?? "qemu-system-x86_64";
/** Where the blob goes in guest-physical memory: above the legacy BIOS/VGA hole. */
const BLOB_GPA = 0x100000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** QEMU's version line, or undefined when it is not installed. */
export function qemuVersion() {
  const r = spawnSync(QEMU, ["--version"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.split("\n")[0]?.trim() : undefined;
}

/**
 * Writes `bytes` of random-looking data to `file` (AES-CTR keystream under a random key:
 * incompressible, no zero pages, and far faster than the system RNG); returns its SHA-256.
 */
export function writeRandomBlob(file, bytes) {
  const fd = openSync(file, "w");
  const hash = createHash("sha256");
  const cipher = createCipheriv("aes-128-ctr", randomBytes(16), randomBytes(16));
  const zeros = Buffer.alloc(64 * 2 ** 20);
  try {
    for (let left = bytes; left > 0; left -= zeros.length) {
      const part = cipher.update(left >= zeros.length ? zeros : zeros.subarray(0, left));
      hash.update(part);
      writeSync(fd, part);
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}

async function sha256File(file) {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file, { highWaterMark: 8 * 2 ** 20 }))
    hash.update(chunk);
  return hash.digest("hex");
}

/**
 * A minimal QMP client: one command at a time, events ignored. When QEMU goes away (it
 * crashed, or was killed for memory) every command waiting on it is rejected, so the
 * benchmark reports the round as failed instead of waiting for an answer forever.
 */
export class Qmp {
  #sock;
  #buf = "";
  #waiting = [];
  #closed;

  /**
   * Connects to QEMU's QMP socket at `path`, reads its greeting and negotiates
   * capabilities within `timeoutMs`. Only the connect is retried (QEMU creates the socket
   * while it starts up); a QEMU that accepts but never greets, or sends what is not QMP,
   * fails the round instead of hanging the benchmark.
   */
  static async connect(path, timeoutMs) {
    const until = Date.now() + timeoutMs;
    let sock;
    for (;;) {
      try {
        sock = await new Promise((resolve, reject) => {
          const s = net.connect(path, () => resolve(s));
          s.once("error", reject);
        });
        break;
      } catch (err) {
        if (Date.now() >= until) throw new Error(`QMP ${path} never answered: ${err.message}`);
        await sleep(100);
      }
    }
    const qmp = new Qmp(sock);
    let timer;
    const expired = new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`QMP ${path} never answered: no greeting in ${timeoutMs} ms`)),
        Math.max(0, until - Date.now()),
      );
    });
    try {
      await Promise.race([qmp.#next(), expired]); // the greeting
      await Promise.race([qmp.cmd("qmp_capabilities"), expired]);
      return qmp;
    } catch (err) {
      qmp.close();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  constructor(sock) {
    this.#sock = sock;
    sock.setEncoding("utf8");
    sock.on("data", (d) => {
      this.#buf += d;
      for (let i = this.#buf.indexOf("\n"); i >= 0; i = this.#buf.indexOf("\n")) {
        const line = this.#buf.slice(0, i).trim();
        this.#buf = this.#buf.slice(i + 1);
        if (!line) continue;
        let msg;
        try {
          msg = JSON.parse(line);
        } catch {
          this.#fail(`QMP sent a line that is not JSON: ${line.slice(0, 80)}`);
          sock.destroy();
          return;
        }
        if (msg.event) continue;
        this.#waiting.shift()?.resolve(msg);
      }
    });
    sock.once("error", (err) => this.#fail(`QMP connection failed: ${err.message}`));
    sock.once("close", () => this.#fail("QEMU closed its QMP connection"));
  }

  #fail(reason) {
    this.#closed ??= new Error(reason);
    for (const w of this.#waiting.splice(0)) w.reject(this.#closed);
  }

  #next() {
    if (this.#closed) return Promise.reject(this.#closed);
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  async cmd(execute, args) {
    const answer = this.#next();
    this.#sock.write(`${JSON.stringify(args ? { execute, arguments: args } : { execute })}\n`);
    const msg = await answer;
    if (msg.error) throw new Error(`QMP ${execute}: ${msg.error.desc}`);
    return msg.return;
  }

  close() {
    this.#sock.destroy();
  }
}

/**
 * Asks `ask()` every `pollMs` until `done(answer)` holds and returns that answer; throws
 * `timedOut(answer)` (the last answer) when it has not within `timeoutMs`. QEMU's state
 * only ever moves on, so one that does not move in time is a failed round, not a hang.
 */
async function pollUntil(ask, done, { pollMs, timeoutMs }, timedOut) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const answer = await ask();
    if (done(answer)) return answer;
    if (performance.now() > deadline) throw new Error(timedOut(answer));
    await sleep(pollMs);
  }
}

/**
 * Polls the source's `query-migrate` until the migration ends and returns its final
 * answer. QEMU 7.2, like every release before a 2024 patch, enters COMPLETED before it
 * computes `total-time` and `downtime` (`migration_calculate_complete` ran after the state
 * change), so a poll in between reads 0 ms for both. QEMU computes them and then sets the
 * source's run state to `postmigrate` under the same lock: once `query-status` says so, a
 * last `query-migrate` has the final figures. Throws when the migration has not ended in
 * `timeoutMs`, or its figures are not final `settleMs` after it completed.
 */
export async function awaitMigrationEnd(
  qmp,
  { pollMs = 10, settleMs = 10_000, timeoutMs = 300_000 } = {},
) {
  const info = await pollUntil(
    () => qmp.cmd("query-migrate"),
    ({ status }) => status === "completed" || status === "failed" || status === "cancelled",
    { pollMs, timeoutMs },
    ({ status }) =>
      `QEMU's migration was still "${status}" after ${timeoutMs} ms: it is not moving`,
  );
  if (info.status !== "completed") return info;
  await pollUntil(
    () => qmp.cmd("query-status"),
    ({ status }) => status === "postmigrate",
    { pollMs, timeoutMs: settleMs },
    ({ status }) =>
      `QEMU's migration completed but its source stayed in run state "${status}" for ${settleMs} ms: its figures are not final`,
  );
  return await qmp.cmd("query-migrate");
}

/**
 * Polls the target's `query-status` until it has left `inmigrate` (the incoming side
 * finishes loading after the source reports COMPLETED) and returns its run state. Throws
 * when it has not in `timeoutMs`.
 */
export async function awaitIncomingEnd(qmp, { pollMs = 10, timeoutMs = 60_000 } = {}) {
  const { status } = await pollUntil(
    () => qmp.cmd("query-status"),
    (answer) => answer.status !== "inmigrate",
    { pollMs, timeoutMs },
    () => `QEMU's target was still "inmigrate" ${timeoutMs} ms after the source completed`,
  );
  return status;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** QEMU processes alive now: killed if the benchmark itself is interrupted. */
const live = new Set();

/** Kills every QEMU still running (the benchmark was interrupted). */
export function killQemus() {
  for (const c of live) c.kill("SIGKILL");
}

function startQemu(dir, name, mib, extra) {
  const qmp = join(dir, `${name}.qmp`);
  rmSync(qmp, { force: true });
  const child = spawn(
    QEMU,
    [
      "-nodefaults",
      "-machine",
      "pc,accel=tcg",
      "-m",
      String(mib),
      "-display",
      "none",
      "-S",
      "-qmp",
      `unix:${qmp},server=on,wait=off`,
      ...extra,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  live.add(child);
  child.once("exit", () => live.delete(child));
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  return { child, qmp, stderr: () => stderr.trim() };
}

/**
 * One QEMU migration of the RAM-static VM (`mib` of RAM, the blob at 1 MiB), verified.
 * Resolves with QEMU's own figures (total time, downtime, bytes) and both processes' peak
 * RSS, or `ok: false` with the reason.
 */
export async function qemuMigrateVerified(dir, { mib, blob, blobBytes, blobSha256 }) {
  const port = await freePort();
  const src = startQemu(dir, "src", mib, [
    "-device",
    `loader,file=${blob},addr=${BLOB_GPA},force-raw=on`,
  ]);
  const dst = startQemu(dir, "dst", mib, ["-incoming", `tcp:127.0.0.1:${port}`, "-mem-prealloc"]);
  const dump = join(dir, "dst-ram.bin");
  let qs;
  let qd;
  try {
    [qs, qd] = await Promise.all([Qmp.connect(src.qmp, 300_000), Qmp.connect(dst.qmp, 300_000)]);
    // QEMU's default max-bandwidth (128 MiB/s) would make this a test of that limit.
    await qs.cmd("migrate-set-parameters", { "max-bandwidth": 100e9 });
    const t0 = performance.now();
    await qs.cmd("migrate", { uri: `tcp:127.0.0.1:${port}` });
    const info = await awaitMigrationEnd(qs);
    const wallMs = performance.now() - t0;
    if (info.status !== "completed")
      return { ok: false, error: `QEMU migration ${info.status}: ${info["error-desc"] ?? ""}` };
    await awaitIncomingEnd(qd);
    const sourcePeakRssKiB = peakRssKiB(src.child.pid);
    const targetPeakRssKiB = peakRssKiB(dst.child.pid);
    await qd.cmd("pmemsave", { val: BLOB_GPA, size: blobBytes, filename: dump });
    const ok = (await sha256File(dump)) === blobSha256;
    return {
      ok,
      ...(ok ? {} : { error: "the target's RAM does not hold the blob" }),
      totalTimeMs: info["total-time"],
      downtimeMs: info.downtime,
      setupMs: info["setup-time"],
      wallMs,
      wireBytes: info.ram?.transferred,
      zeroPages: info.ram?.duplicate,
      dataPages: info.ram?.normal,
      sourcePeakRssKiB,
      targetPeakRssKiB,
    };
  } catch (err) {
    return {
      ok: false,
      error: `${err.message}${src.stderr() ? ` (source: ${src.stderr()})` : ""}${dst.stderr() ? ` (target: ${dst.stderr()})` : ""}`,
    };
  } finally {
    qs?.close();
    qd?.close();
    src.child.kill("SIGKILL");
    dst.child.kill("SIGKILL");
    rmSync(dump, { force: true });
  }
}
