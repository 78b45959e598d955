// The X.509 half of `mdevkit keygen`, in its own module so that only keygen loads the
// certificate library (hundreds of milliseconds at start-up for every other command).
import { createPrivateKey, createPublicKey, randomBytes, webcrypto } from "node:crypto";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { errnoOf, MdevError } from "@mdevkit/core";
import * as x509 from "@peculiar/x509";

/** A key pair and its certificate. */
export interface Identity {
  readonly cert: x509.X509Certificate;
  readonly keys: webcrypto.CryptoKeyPair;
}

const EC = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGN = { name: "ECDSA", hash: "SHA-256" } as const;
// Certificates start a little in the past: two hosts' clocks are never exactly equal, and
// a certificate "not yet valid" on the peer is a refusal that is hard to diagnose.
const CLOCK_SKEW_MS = 10 * 60 * 1000;

x509.cryptoProvider.set(webcrypto);

async function newKeys(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC, true, [
    "sign",
    "verify",
  ])) as webcrypto.CryptoKeyPair;
}

function validity(days: number): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  return {
    notBefore: new Date(now - CLOCK_SKEW_MS),
    notAfter: new Date(now + days * 24 * 3600 * 1000),
  };
}

/** A random positive 128-bit serial (RFC 5280 allows up to 20 octets). */
function serial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] ?? 0) & 0x7f;
  return b.toString("hex");
}

/** A self-signed CA (P-256 ECDSA) that may sign leaves only (path length 0). */
export async function makeCa(days: number): Promise<Identity> {
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: "CN=mdevkit CA",
    ...validity(days),
    signingAlgorithm: SIGN,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, keys };
}

/**
 * A leaf signed by `ca`: a server (serverAuth, subjectAltNames from `hosts`, IPs as IP
 * entries, the rest as DNS names) or a client (clientAuth).
 */
export async function makeLeaf(
  ca: Identity,
  role: "server" | "client",
  name: string,
  hosts: readonly string[],
  days: number,
): Promise<Identity> {
  const keys = await newKeys();
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([
      role === "server" ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
    ]),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey),
  ];
  if (role === "server") {
    extensions.push(
      new x509.SubjectAlternativeNameExtension(
        hosts.map((h) => ({ type: isIP(h) === 0 ? "dns" : "ip", value: h })),
      ),
    );
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${name}, O=mdevkit ${role}`,
    issuer: ca.cert.subject,
    ...validity(days),
    signingAlgorithm: SIGN,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    extensions,
  });
  return { cert, keys };
}

function readText(dir: string, path: string, what: string): string {
  try {
    return readFileSync(path, "latin1");
  } catch (err) {
    throw new MdevError(
      errnoOf(err, "ENOENT"),
      `cannot read ${what} ${path} (${(err as NodeJS.ErrnoException).code ?? "error"}); make one with \`mdevkit keygen ca --out ${dir}\``,
    );
  }
}

/**
 * The CA in `dir` (ca.crt, ca.key), checked: the certificate must be a CA's and the key
 * its P-256 key — so a leaf is never signed by a key its CA certificate does not vouch for.
 * @throws MdevError ENOENT (a file missing) or EINVAL (naming the file that is wrong).
 */
export async function loadCa(dir: string): Promise<Identity> {
  const certPath = join(dir, "ca.crt");
  const keyPath = join(dir, "ca.key");
  const certPem = readText(dir, certPath, "the CA certificate");
  const keyPem = readText(dir, keyPath, "the CA key");
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(certPem);
  } catch {
    throw new MdevError("EINVAL", `${certPath} is not a PEM certificate`);
  }
  if (!cert.getExtension(x509.BasicConstraintsExtension)?.ca)
    throw new MdevError("EINVAL", `${certPath} is not a CA certificate`);
  let pkcs8: Buffer;
  try {
    const node = createPrivateKey(keyPem);
    const spki = createPublicKey(node).export({ type: "spki", format: "der" });
    if (!Buffer.from(cert.publicKey.rawData).equals(spki))
      throw new MdevError("EINVAL", `${keyPath} is not the key of ${certPath}`);
    pkcs8 = node.export({ type: "pkcs8", format: "der" });
  } catch (err) {
    if (err instanceof MdevError) throw err;
    throw new MdevError("EINVAL", `${keyPath} is not a PEM private key`);
  }
  try {
    const privateKey = await webcrypto.subtle.importKey("pkcs8", pkcs8, EC, false, ["sign"]);
    const publicKey = await cert.publicKey.export(EC, ["verify"], webcrypto);
    return { cert, keys: { privateKey, publicKey } };
  } catch {
    throw new MdevError("EINVAL", `${keyPath} is not a P-256 ECDSA key (keygen signs with P-256)`);
  }
}

/** The certificate as PEM. */
export function certificatePem(id: Identity): string {
  return `${id.cert.toString("pem")}\n`;
}

/** The private key as unencrypted PKCS#8 PEM (what `--tls-key` reads). */
export async function privateKeyPem(id: Identity): Promise<string> {
  const der = await webcrypto.subtle.exportKey("pkcs8", id.keys.privateKey);
  return `${x509.PemConverter.encode(der, "PRIVATE KEY")}\n`;
}
