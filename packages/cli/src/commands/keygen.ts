import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { errnoOf, MdevError } from "@mdevkit/core";
import type { Identity } from "../keygen-certificates.js";

/** What `mdevkit keygen` makes. */
export const KEYGEN_KINDS = ["all", "ca", "server", "client", "psk"] as const;

/** One of {@link KEYGEN_KINDS}. */
export type KeygenKind = (typeof KEYGEN_KINDS)[number];

/** Options of `mdevkit keygen`. */
export interface KeygenOptions {
  /** Directory the files go to (created, mode 0700, when missing). */
  readonly out: string;
  /** File stem of a server or client identity, or of the PSK file. */
  readonly name?: string;
  /** subjectAltNames of a server certificate: DNS names or IP addresses. */
  readonly host: string[];
  /** Validity of certificates, in days. */
  readonly days: number;
  /** Overwrite existing files. */
  readonly force: boolean;
}

/** Default subjectAltNames of a server certificate: what `listen` binds by default. */
export const DEFAULT_SERVER_HOSTS = ["127.0.0.1", "localhost"] as const;
/** Longest certificate validity accepted, in days. */
export const MAX_CERT_DAYS = 3650;
/** PSK length keygen writes, in bytes (256 bits). */
export const PSK_BYTES = 32;

const KEY_MODE = 0o600;
const CERT_MODE = 0o644;
const DNS_NAME =
  /^(?=.{1,253}$)(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const FILE_STEM = /^[a-z0-9][a-z0-9._-]{0,63}$/i;

/** The certificate module, loaded on demand. */
type Certificates = typeof import("../keygen-certificates.js");

/** A file keygen writes: where, what, and with which permissions. */
interface OutputFile {
  readonly path: string;
  readonly text: string;
  readonly mode: number;
}

function checkOptions(kind: KeygenKind, o: KeygenOptions): void {
  if (!Number.isSafeInteger(o.days) || o.days < 1 || o.days > MAX_CERT_DAYS)
    throw new MdevError("EINVAL", `--days ${o.days}: need 1 to ${MAX_CERT_DAYS}`);
  if (o.name !== undefined && !FILE_STEM.test(o.name))
    throw new MdevError(
      "EINVAL",
      `--name "${o.name}": letters, digits, '.', '_' and '-' only (a file name)`,
    );
  if (o.name !== undefined && (kind === "all" || kind === "ca"))
    throw new MdevError("EINVAL", `--name applies to server, client and psk, not ${kind}`);
  if (o.host.length > 0 && kind !== "server" && kind !== "all")
    throw new MdevError("EINVAL", `--host applies to server certificates, not ${kind}`);
  for (const h of o.host) {
    if (isIP(h) === 0 && !DNS_NAME.test(h))
      throw new MdevError("EINVAL", `--host "${h}" is neither an IP address nor a DNS name`);
  }
}

async function identityFiles(
  pki: Certificates,
  dir: string,
  stem: string,
  id: Identity,
): Promise<OutputFile[]> {
  return [
    { path: join(dir, `${stem}.crt`), text: pki.certificatePem(id), mode: CERT_MODE },
    { path: join(dir, `${stem}.key`), text: await pki.privateKeyPem(id), mode: KEY_MODE },
  ];
}

/**
 * Writes every file or none: all paths are checked first, and each file is created
 * exclusively (`wx`) unless `force`, so a concurrent writer is not silently replaced.
 */
function writeAll(dir: string, files: readonly OutputFile[], force: boolean): void {
  if (!force) {
    const present = files.filter((f) => existsSync(f.path)).map((f) => f.path);
    if (present.length > 0)
      throw new MdevError(
        "EEXIST",
        `${present.join(", ")} already exist${present.length === 1 ? "s" : ""}; pass --force to overwrite`,
      );
  }
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const f of files) {
      writeFileSync(f.path, f.text, { mode: f.mode, flag: force ? "w" : "wx" });
      // `mode` applies only when the file is created; an overwritten key keeps old bits.
      chmodSync(f.path, f.mode);
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new MdevError(errnoOf(e, "EIO"), `cannot write into ${dir}: ${e.code ?? e.message}`);
  }
}

/** The lines that tell the operator what was made and how to use it. */
function usage(kind: KeygenKind, dir: string, o: KeygenOptions, files: OutputFile[]): string[] {
  const lines = files.map((f) => `wrote ${f.path} (mode ${f.mode.toString(8).padStart(4, "0")})`);
  const at = (stem: string, ext: string): string => join(dir, `${stem}.${ext}`);
  if (kind === "psk") {
    const psk = at(o.name ?? "mdevkit", "psk");
    lines.push(
      "copy it to both hosts over a trusted channel, then:",
      `  target: mdevkit listen --on tls://HOST:4444 --psk-file ${psk}`,
      `  source: mdevkit migrate --to tls://HOST:4444 --psk-file ${psk}`,
    );
  } else if (kind !== "ca") {
    const server = kind === "server" ? (o.name ?? "server") : "server";
    const client = kind === "client" ? (o.name ?? "client") : "client";
    const ca = at("ca", "crt");
    lines.push("keep ca.key on this machine; copy ca.crt and one identity to each host, then:");
    if (kind !== "client")
      lines.push(
        `  target: mdevkit listen --on tls://HOST:4444 --tls-cert ${at(server, "crt")} --tls-key ${at(server, "key")} --tls-ca ${ca}`,
      );
    if (kind !== "server")
      lines.push(
        `  source: mdevkit migrate --to tls://HOST:4444 --tls-cert ${at(client, "crt")} --tls-key ${at(client, "key")} --tls-ca ${ca}`,
      );
  }
  return lines;
}

/**
 * `mdevkit keygen [KIND] --out DIR`: TLS material in one command. `all` (the default)
 * makes a CA and a server and a client identity signed by it; `ca` only the CA; `server`
 * and `client` one identity signed by the CA already in DIR; `psk` a pre-shared key file
 * (32 random bytes, hex). Keys are P-256 ECDSA, written mode 0600; nothing is overwritten
 * without `--force`.
 * @returns the lines printed (also written to stdout).
 */
export async function keygenCommand(kind: KeygenKind, o: KeygenOptions): Promise<string[]> {
  checkOptions(kind, o);
  const dir = o.out;
  const hosts = o.host.length > 0 ? o.host : [...DEFAULT_SERVER_HOSTS];
  const files: OutputFile[] = [];
  if (kind === "psk") {
    files.push({
      path: join(dir, `${o.name ?? "mdevkit"}.psk`),
      text: `${randomBytes(PSK_BYTES).toString("hex")}\n`,
      mode: KEY_MODE,
    });
  } else {
    // Loaded on demand: the X.509 library costs every other command its start-up time.
    const pki = await import("../keygen-certificates.js");
    const ca = kind === "all" || kind === "ca" ? await pki.makeCa(o.days) : await pki.loadCa(dir);
    if (kind === "all" || kind === "ca") files.push(...(await identityFiles(pki, dir, "ca", ca)));
    if (kind === "all" || kind === "server") {
      const name = o.name ?? "server";
      const id = await pki.makeLeaf(ca, "server", name, hosts, o.days);
      files.push(...(await identityFiles(pki, dir, name, id)));
    }
    if (kind === "all" || kind === "client") {
      const name = o.name ?? "client";
      const id = await pki.makeLeaf(ca, "client", name, [], o.days);
      files.push(...(await identityFiles(pki, dir, name, id)));
    }
  }
  writeAll(dir, files, o.force);
  const lines = usage(kind, dir, o, files);
  process.stdout.write(`${lines.join("\n")}\n`);
  return lines;
}
