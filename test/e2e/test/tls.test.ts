// Issue #5, "Must show": migration over TLS between real processes — with a pre-shared key,
// and (when openssl is installed) with certificates — succeeds with identical RAM; a source
// with the wrong key or an untrusted certificate is refused and the target stays usable.
import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { hasOpenssl, makePki } from "../helpers/pki.js";
import {
  cleanup,
  eventOf,
  expectExit,
  runCli,
  spawnEvents,
  startTarget,
  type Target,
  writeText,
} from "../helpers/processes.js";
import { expectSameVm, sourceResult, targetResult } from "../helpers/results.js";

afterEach(cleanup);

/** A `--psk-file`: 32 random bytes, hex. */
function pskFile(): string {
  return writeText("key.psk", `${randomBytes(32).toString("hex")}\n`);
}

const TLS_ON = "tls://127.0.0.1:0";
const vm = ["--memory", "64", "--warmup", "100", "--verify-ram"];

/** Migrates to `url` with `tls` flags and checks the VM arrived whole and runs there. */
async function expectMigrates(target: Target, tls: readonly string[]): Promise<void> {
  const source = spawnEvents(["migrate", "--to", target.url, ...vm, ...tls]);
  await expectExit(source, { code: 0, signal: null });
  await expectExit(target.child, { code: 0, signal: null });
  const dst = targetResult(target.child);
  expectSameVm(sourceResult(source), dst);
  expect(dst.vcpuWritesAfterRun).toBeGreaterThan(0);
}

/** A refused source: exit 1 and one `mdevkit: ...` line on stderr matching `reason`. */
async function expectRefused(args: readonly string[], reason: RegExp): Promise<void> {
  // --json: no progress display on stderr, so the error line stands alone.
  const run = await runCli(["migrate", "--json", ...vm, ...args]);
  expect(run.code, run.stderr).toBe(1);
  const lines = run.stderr.split("\n").filter((l) => l !== "");
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^mdevkit: /);
  expect(lines[0]).toMatch(reason);
}

describe("TLS with a pre-shared key", () => {
  it("migrates with identical RAM when both sides hold the key", async () => {
    const psk = pskFile();
    const target = await startTarget(["--psk-file", psk, "--run-for", "200"], TLS_ON);
    expect(target.url).toMatch(/^tls:\/\/127\.0\.0\.1:\d+$/);
    await expectMigrates(target, ["--psk-file", psk]);
  });

  it("refuses a source with the wrong key; the target takes the next, right one", async () => {
    const psk = pskFile();
    const target = await startTarget(["--psk-file", psk, "--run-for", "200"], TLS_ON);
    await expectRefused(["--to", target.url, "--psk-file", pskFile()], /TLS connection refused/);
    // Nothing of the VM reached the target, and it is still listening.
    expect(target.child.events.map((e) => e.event)).toEqual(["listening"]);
    await expectMigrates(target, ["--psk-file", psk]);
  });

  // A TLS refusal happens in connect(), before the migration proper: it must still be a
  // rolled-back failure (nothing was stopped), so --then-run and --retry-to go ahead.
  it("a wrong key is a failed migration like any other: the VM runs on and the retry succeeds", async () => {
    // The first target holds another key than the source; the retry target holds the source's.
    const psk = pskFile();
    const guarded = await startTarget(["--psk-file", pskFile()], TLS_ON);
    const healthy = await startTarget(["--psk-file", psk, "--run-for", "200"], TLS_ON);
    const source = spawnEvents([
      "migrate",
      "--to",
      guarded.url,
      "--psk-file",
      psk,
      "--retry-to",
      healthy.url,
      "--then-run",
      "300",
      ...vm,
    ]);
    await expectExit(source, { code: 0, signal: null });
    const error = eventOf(source, "error");
    expect(error.rolledBack).toBe(true);
    const alive = eventOf(source, "still-running");
    expect(alive.vcpuWritesAfter).toBeGreaterThan(alive.vcpuWritesBefore);
    expect(alive.ramChanged).toBe(true);
    await expectExit(healthy.child, { code: 0, signal: null });
    expectSameVm(sourceResult(source), targetResult(healthy.child));
  });
});

describe("TLS flags with a plain address", () => {
  // Credentials with a tcp:// or unix:// address would otherwise be dropped silently: a
  // target the operator believes protected would accept any source, in plaintext.
  it("--psk-file with a tcp:// address is refused, naming the flag", async () => {
    await expectRefused(["--to", "tcp://127.0.0.1:1", "--psk-file", pskFile()], /--psk-file/);
  });
});

describe.skipIf(!hasOpenssl())("TLS with certificates (openssl-made PKI)", () => {
  it("migrates with identical RAM between mutually authenticated hosts", async () => {
    const pki = makePki();
    const target = await startTarget(
      [
        "--tls-cert",
        pki.server.cert,
        "--tls-key",
        pki.server.key,
        "--tls-ca",
        pki.ca,
        "--run-for",
        "200",
      ],
      TLS_ON,
    );
    await expectMigrates(target, [
      "--tls-cert",
      pki.client.cert,
      "--tls-key",
      pki.client.key,
      "--tls-ca",
      pki.ca,
    ]);
  });

  it("refuses a source whose certificate chains to another CA", async () => {
    const pki = makePki();
    const target = await startTarget(
      ["--tls-cert", pki.server.cert, "--tls-key", pki.server.key, "--tls-ca", pki.ca],
      TLS_ON,
    );
    await expectRefused(
      [
        "--to",
        target.url,
        "--tls-cert",
        pki.rogueClient.cert,
        "--tls-key",
        pki.rogueClient.key,
        "--tls-ca",
        pki.ca,
      ],
      // TLS 1.3 finishes the client's side of the handshake before the server checks the
      // client certificate, so the source learns of the refusal as a closed connection.
      /migration failed during handshake: .*closed the connection/,
    );
    expect(target.child.events.map((e) => e.event)).toEqual(["listening"]);
  });
});
