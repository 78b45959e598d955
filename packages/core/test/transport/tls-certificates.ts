// Test-time X.509 material made with the openssl CLI in a temp dir: nothing is committed.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** PEM strings of one identity. */
export interface Identity {
  cert: string;
  key: string;
}

/** A CA with a server and a client identity, plus a rogue CA's client. */
export interface TestPki {
  ca: string;
  server: Identity;
  client: Identity;
  rogueCa: string;
  rogueClient: Identity;
  cleanup(): void;
}

/** True when the openssl CLI is available (the TLS tests are skipped otherwise). */
export function hasOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Generates a PKI with P-256 keys (fast), valid for a day. */
export function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), "mdevkit-pki-"));
  const ossl = (...args: string[]): void => {
    execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  const ca = (name: string): void =>
    ossl(
      "req",
      "-x509",
      ...ec,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.crt`,
      "-days",
      "1",
      "-subj",
      `/CN=${name}`,
    );
  const leaf = (name: string, issuer: string, ext: string): void => {
    ossl("req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`);
    writeFileSync(join(dir, `${name}.ext`), ext);
    ossl(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      `${issuer}.crt`,
      "-CAkey",
      `${issuer}.key`,
      "-CAcreateserial",
      "-out",
      `${name}.crt`,
      "-days",
      "1",
      "-extfile",
      `${name}.ext`,
    );
  };
  ca("ca");
  ca("rogue");
  leaf("server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  leaf("client", "ca", "extendedKeyUsage=clientAuth\n");
  leaf("intruder", "rogue", "extendedKeyUsage=clientAuth\n");
  const read = (f: string): string => readFileSync(join(dir, f), "utf8");
  const id = (n: string): Identity => ({ cert: read(`${n}.crt`), key: read(`${n}.key`) });
  const pki = {
    ca: read("ca.crt"),
    server: id("server"),
    client: id("client"),
    rogueCa: read("rogue.crt"),
    rogueClient: id("intruder"),
  };
  rmSync(dir, { recursive: true, force: true });
  return { ...pki, cleanup: () => {} };
}
