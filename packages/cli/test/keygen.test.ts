import { X509Certificate } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ChannelListener, connect, listen, MdevError } from "@mdevkit/core";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type KeygenKind, type KeygenOptions, keygenCommand } from "../src/commands/keygen.js";
import { channelOptions, parsePskFile } from "../src/tls-options.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "mdevkit-keygen-"));
  vi.spyOn(process.stdout, "write").mockImplementation(() => true);
});
afterEach(() => {
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

const keygen = (kind: KeygenKind, o: Partial<KeygenOptions> = {}): Promise<string[]> =>
  keygenCommand(kind, { out: dir, host: [], days: 30, force: false, ...o });
const cert = (stem: string): X509Certificate =>
  new X509Certificate(readFileSync(join(dir, `${stem}.crt`)));
const mode = (file: string): number => statSync(join(dir, file)).mode & 0o777;

/** Whether a TLS client with `client`'s flags reaches a listener with `server`'s flags. */
async function handshake(server: object, client: object): Promise<"accepted" | "refused"> {
  const l: ChannelListener = await listen(
    "tls://127.0.0.1:0",
    channelOptions(server, "tls://127.0.0.1:0"),
  );
  try {
    const accepted = l.accept();
    // Rejected by close() when nobody got through: that is the "refused" outcome.
    accepted.catch(() => undefined);
    const source = await connect(l.url, channelOptions(client, l.url)).catch(() => undefined);
    if (source === undefined) return "refused";
    // TLS 1.3: the client may finish before the server judged its certificate. Then the
    // server's refusal closes the connection, which ends the source's return path; an
    // accepted peer is handed out by the listener and its return path stays open.
    if (!source.returnPath) throw new Error("a TLS channel without a return path");
    const closed = source.returnPath.next().then(
      () => "refused" as const,
      () => "refused" as const,
    );
    const who = await Promise.race([accepted.then(() => "accepted" as const), closed]);
    await source.close();
    return who;
  } finally {
    await l.close();
  }
}

describe("mdevkit keygen", () => {
  it("makes a CA, a server and a client identity that chain to it, keys mode 0600", async () => {
    await keygen("all");
    const ca = cert("ca");
    expect(ca.ca).toBe(true);
    for (const leaf of ["server", "client"]) {
      expect(cert(leaf).checkIssued(ca)).toBe(true);
      expect(cert(leaf).verify(ca.publicKey)).toBe(true);
      expect(cert(leaf).ca).toBe(false);
      expect(mode(`${leaf}.key`)).toBe(0o600);
      expect(mode(`${leaf}.crt`)).toBe(0o644);
    }
    expect(mode("ca.key")).toBe(0o600);
    expect(statSync(dir).isDirectory()).toBe(true);
    expect(cert("server").subjectAltName).toBe("IP Address:127.0.0.1, DNS:localhost");
    expect(cert("server").keyUsage).toEqual(["1.3.6.1.5.5.7.3.1"]);
    expect(cert("client").keyUsage).toEqual(["1.3.6.1.5.5.7.3.2"]);
    expect(cert("server").publicKey.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
  });

  it("names a server's hosts in its subjectAltName, IPs as IP entries", async () => {
    await keygen("ca");
    await keygen("server", { name: "host-b", host: ["10.0.0.2", "::1", "b.example"] });
    const c = cert("host-b");
    expect(c.subjectAltName).toBe("IP Address:10.0.0.2, IP Address:0:0:0:0:0:0:0:1, DNS:b.example");
    expect(c.checkIssued(cert("ca"))).toBe(true);
    expect(c.checkHost("b.example")).toBe("b.example");
    expect(c.checkIP("10.0.0.2")).toBe("10.0.0.2");
  });

  it("writes a 32-byte PSK, mode 0600, that parsePskFile accepts", async () => {
    await keygen("psk");
    const file = join(dir, "mdevkit.psk");
    expect(mode("mdevkit.psk")).toBe(0o600);
    expect(parsePskFile(readFileSync(file), file)).toHaveLength(32);
    await keygen("psk", { name: "other" });
    expect(readFileSync(join(dir, "other.psk"), "utf8")).not.toBe(readFileSync(file, "utf8"));
  });

  it("refuses to overwrite anything without --force, and writes none of the set", async () => {
    await keygen("psk");
    writeFileSync(join(dir, "client.key"), "mine");
    const before = readFileSync(join(dir, "mdevkit.psk"), "utf8");
    await expect(keygen("psk")).rejects.toThrow(
      /EEXIST: .*mdevkit\.psk already exists; pass --force/,
    );
    await expect(keygen("all")).rejects.toThrow(/client\.key already exists/);
    expect(() => statSync(join(dir, "ca.key"))).toThrow();
    expect(readFileSync(join(dir, "client.key"), "utf8")).toBe("mine");
    expect(readFileSync(join(dir, "mdevkit.psk"), "utf8")).toBe(before);
    await keygen("psk", { force: true });
    expect(readFileSync(join(dir, "mdevkit.psk"), "utf8")).not.toBe(before);
  });

  it("--force on a key left world-readable makes it 0600 again", async () => {
    writeFileSync(join(dir, "mdevkit.psk"), "x", { mode: 0o644 });
    await keygen("psk", { force: true });
    expect(mode("mdevkit.psk")).toBe(0o600);
  });

  it("signs a new client with the CA already there, and refuses a CA key that is not the CA's", async () => {
    await keygen("all");
    await keygen("client", { name: "second" });
    expect(cert("second").checkIssued(cert("ca"))).toBe(true);
    expect(cert("second").verify(cert("ca").publicKey)).toBe(true);
    writeFileSync(join(dir, "ca.key"), readFileSync(join(dir, "client.key")));
    await expect(keygen("client", { name: "third" })).rejects.toThrow(
      /EINVAL: .*ca\.key is not the key of .*ca\.crt/,
    );
    writeFileSync(join(dir, "ca.crt"), readFileSync(join(dir, "server.crt")));
    await expect(keygen("client", { name: "third" })).rejects.toThrow(/is not a CA certificate/);
  });

  it("a file it cannot write or read keeps the system's reason (EISDIR), not EIO or ENOENT", async () => {
    mkdirSync(join(dir, "ca.crt"));
    await expect(keygen("ca", { force: true })).rejects.toThrow(
      /^EISDIR: cannot write into .*: EISDIR$/,
    );
    await expect(keygen("server")).rejects.toThrow(/^EISDIR: cannot read the CA certificate /);
  });

  it("refuses bad options with one typed line naming the value", async () => {
    const refused = async (p: Promise<unknown>, re: RegExp): Promise<void> => {
      const err = await p.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MdevError);
      expect((err as Error).message).toMatch(re);
      expect((err as Error).message).not.toContain("\n");
    };
    await refused(keygen("server"), /ENOENT: cannot read the CA certificate .*keygen ca --out/);
    await refused(keygen("all", { host: ["bad host"] }), /--host "bad host"/);
    await refused(keygen("client", { host: ["a.example"] }), /--host applies to server/);
    await refused(keygen("psk", { name: "../escape" }), /--name "\.\.\/escape"/);
    await refused(keygen("all", { days: 0 }), /--days 0/);
    await refused(keygen("all", { days: 99999 }), /--days 99999/);
  });

  it("its material authenticates a TLS connection; a client of another CA is refused", async () => {
    await keygen("all");
    const server = {
      tlsCert: join(dir, "server.crt"),
      tlsKey: join(dir, "server.key"),
      tlsCa: join(dir, "ca.crt"),
    };
    const client = {
      tlsCert: join(dir, "client.crt"),
      tlsKey: join(dir, "client.key"),
      tlsCa: join(dir, "ca.crt"),
    };
    expect(await handshake(server, client)).toBe("accepted");
    const rogue = join(dir, "rogue");
    await keygenCommand("all", { out: rogue, host: [], days: 1, force: false });
    const intruder = {
      tlsCert: join(rogue, "client.crt"),
      tlsKey: join(rogue, "client.key"),
      tlsCa: join(dir, "ca.crt"),
    };
    expect(await handshake(server, intruder)).toBe("refused");
  });

  it("its PSK authenticates a TLS connection; another PSK is refused", async () => {
    await keygen("psk");
    await keygen("psk", { name: "wrong" });
    const psk = { pskFile: join(dir, "mdevkit.psk") };
    expect(await handshake(psk, psk)).toBe("accepted");
    expect(await handshake(psk, { pskFile: join(dir, "wrong.psk") })).toBe("refused");
  });
});
