// TLS material for the end-to-end tests, made by `mdevkit keygen` itself (the real
// binary) in temp dirs at test time: nothing secret is committed, no openssl needed, and
// every test that uses it also proves keygen's output works with listen and migrate.
import { join } from "node:path";
import { expect } from "vitest";
import { runCli, tempDir } from "./processes.js";

/** Paths of one identity's PEM files. */
export interface IdentityFiles {
  readonly cert: string;
  readonly key: string;
}

/** A CA with a server (127.0.0.1) and a client identity, and a client of a rogue CA. */
export interface PkiFiles {
  readonly ca: string;
  readonly server: IdentityFiles;
  readonly client: IdentityFiles;
  /** A client certificate issued by another CA (its own `keygen` run). */
  readonly rogueClient: IdentityFiles;
}

/** Runs `mdevkit keygen ARGS` and fails the test with its stderr if it did not succeed. */
export async function keygen(args: readonly string[]): Promise<void> {
  const run = await runCli(["keygen", ...args]);
  expect(run.code, run.stderr).toBe(0);
}

const identity = (dir: string, stem: string): IdentityFiles => ({
  cert: join(dir, `${stem}.crt`),
  key: join(dir, `${stem}.key`),
});

/** `mdevkit keygen --out DIR` twice: the trusted PKI and a rogue one. */
export async function makePki(): Promise<PkiFiles> {
  const dir = tempDir();
  const rogue = tempDir();
  await Promise.all([keygen(["--out", dir]), keygen(["--out", rogue])]);
  return {
    ca: join(dir, "ca.crt"),
    server: identity(dir, "server"),
    client: identity(dir, "client"),
    rogueClient: identity(rogue, "client"),
  };
}

/** `mdevkit keygen psk`: a fresh pre-shared key file, returns its path. */
export async function makePsk(): Promise<string> {
  const dir = tempDir();
  await keygen(["psk", "--out", dir]);
  return join(dir, "mdevkit.psk");
}

/** `listen` flags for the PKI's server identity. */
export function serverFlags(pki: PkiFiles): string[] {
  return ["--tls-cert", pki.server.cert, "--tls-key", pki.server.key, "--tls-ca", pki.ca];
}

/** `migrate` flags for an identity, trusting the PKI's CA. */
export function clientFlags(pki: PkiFiles, id: IdentityFiles = pki.client): string[] {
  return ["--tls-cert", id.cert, "--tls-key", id.key, "--tls-ca", pki.ca];
}
