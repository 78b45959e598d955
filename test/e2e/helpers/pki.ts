// X.509 material for the certificate-mode TLS test, made with the openssl CLI in a temp
// dir at test time (nothing secret is committed). P-256 keys: fast to generate.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "./processes.js";

/** True when the openssl CLI can be run (the certificate test is skipped otherwise). */
export function hasOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

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
  readonly rogueClient: IdentityFiles;
}

/** Generates the PKI in a temp dir removed by `cleanup()`. */
export function makePki(): PkiFiles {
  const dir = tempDir();
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
  const leaf = (name: string, issuer: string, ext: string): IdentityFiles => {
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
    return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  };
  ca("ca");
  ca("rogue");
  return {
    ca: join(dir, "ca.crt"),
    server: leaf("server", "ca", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
    client: leaf("client", "ca", "extendedKeyUsage=clientAuth\n"),
    rogueClient: leaf("intruder", "rogue", "extendedKeyUsage=clientAuth\n"),
  };
}
