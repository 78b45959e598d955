import { createServer, type TLSSocket, connect as tlsConnect } from "node:tls";
import { errnoOf } from "../errors/errno.js";
import type { ChannelCapabilities, ChannelListener, SourceChannel } from "./channel.js";
import { formatChannelUrl } from "./channel-url.js";
import { DEFAULT_LISTEN_HOST } from "./net-transport.js";
import { SocketSourceChannel, SocketTargetChannel } from "./socket-channel.js";
import { SocketListener, startListening } from "./socket-listener.js";
import { TransportError } from "./transport-error.js";

/**
 * Mutual certificate authentication: each side presents `cert`/`key` and accepts only peers
 * whose certificate chains to `ca`. The source also checks the target's name (`servername`,
 * default the host it connects to) against the certificate's subjectAltName.
 */
export interface TlsCertificateAuth {
  readonly mode: "certificate";
  readonly ca: string | Uint8Array;
  readonly cert: string | Uint8Array;
  readonly key: string | Uint8Array;
  readonly servername?: string;
}

/**
 * Pre-shared key: TLS 1.3 with an ephemeral key exchange on top of the key (RFC 8446
 * psk_dhe_ke), or, with a peer that stops at TLS 1.2, the AEAD PSK ciphers of RFC 4279
 * (forward-secret ECDHE-PSK first). Both sides must hold the same `key` (≥ 16 bytes) under
 * the same `identity`.
 */
export interface TlsPskAuth {
  readonly mode: "psk";
  readonly identity: string;
  readonly key: Uint8Array;
}

/** How a TLS channel authenticates its peer. There is no unauthenticated mode. */
export type TlsAuth = TlsCertificateAuth | TlsPskAuth;

/**
 * PSK cipher suites, preferred first: TLS 1.3's that hash with SHA-256 (OpenSSL derives a
 * TLS 1.3 PSK from the key only for those), then TLS 1.2's AEAD PSK ciphers.
 */
export const PSK_CIPHERS =
  "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:" +
  "ECDHE-PSK-CHACHA20-POLY1305:PSK-AES256-GCM-SHA384:PSK-AES128-GCM-SHA256";

const TLS12 = "TLSv1.2" as const;

/**
 * How long a peer has to complete the TLS handshake before the server drops it (Node's
 * default is 120 s). A stalled handshake blocks nobody else, but holds a socket.
 */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/** node:tls wants strings or Buffers. */
const pem = (v: string | Uint8Array): string | Buffer =>
  typeof v === "string" ? v : Buffer.from(v);

const CAPS: ChannelCapabilities = {
  kind: "tls",
  returnPath: true,
  authenticated: true,
  encrypted: true,
};

function checkPsk(auth: TlsPskAuth): void {
  if (auth.key.byteLength < 16)
    throw new TransportError("EINVAL", "tls", "a pre-shared key must be at least 16 bytes");
  if (auth.identity.length === 0 || auth.identity.length > 128)
    throw new TransportError("EINVAL", "tls", "PSK identity must be 1..128 chars");
}

/** Whether a TLS error is an authentication failure rather than a network one. */
function authFailure(err: Error & { code?: string; library?: string }): boolean {
  return (
    (err.code ?? "").startsWith("ERR_SSL") ||
    err.library === "SSL routines" ||
    /alert|handshake|certificate|self.signed/i.test(err.message)
  );
}

/**
 * Connects to a TLS target and resolves only after the handshake authenticated the target.
 * A wrong CA, certificate or key is a TransportError EPERM.
 */
export function connectTls(host: string, port: number, auth: TlsAuth): Promise<SourceChannel> {
  const url = formatChannelUrl({ kind: "tls", host, port });
  if (auth.mode === "psk") checkPsk(auth);
  const socket: TLSSocket =
    auth.mode === "certificate"
      ? tlsConnect({
          host,
          port,
          ca: pem(auth.ca),
          cert: pem(auth.cert),
          key: pem(auth.key),
          servername: auth.servername ?? (/^[\d.]+$|:/.test(host) ? undefined : host),
          rejectUnauthorized: true,
          minVersion: TLS12,
        })
      : tlsConnect({
          host,
          port,
          ciphers: PSK_CIPHERS,
          minVersion: TLS12,
          pskCallback: () => ({ psk: Buffer.from(auth.key), identity: auth.identity }),
          // No certificates in PSK mode: the key itself authenticates the target.
          checkServerIdentity: () => undefined,
        });
  socket.setNoDelay(true);
  return new Promise((resolve, reject) => {
    socket.once("error", (err) => {
      const code = authFailure(err) ? "EPERM" : errnoOf(err, "ECONNRESET");
      reject(
        new TransportError(code, url, `TLS connection refused: ${err.message}`, { cause: err }),
      );
    });
    socket.once("secureConnect", () => {
      if (auth.mode === "certificate" && !socket.authorized) {
        socket.destroy();
        reject(
          new TransportError(
            "EPERM",
            url,
            `target not authorized: ${String(socket.authorizationError)}`,
          ),
        );
        return;
      }
      resolve(new SocketSourceChannel(socket, url, CAPS));
    });
  });
}

/**
 * Listens for TLS sources (default on 127.0.0.1). `accept()` yields only peers that
 * completed the handshake with valid credentials: a client without a certificate, with one
 * from another CA, or with the wrong PSK is dropped during the handshake and never seen.
 */
export async function listenTls(
  port: number,
  auth: TlsAuth,
  host = DEFAULT_LISTEN_HOST,
): Promise<ChannelListener> {
  if (auth.mode === "psk") checkPsk(auth);
  const key = auth.mode === "psk" ? Buffer.from(auth.key) : undefined;
  const server =
    auth.mode === "certificate"
      ? createServer({
          ca: pem(auth.ca),
          cert: pem(auth.cert),
          key: pem(auth.key),
          requestCert: true,
          rejectUnauthorized: true,
          minVersion: TLS12,
          handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS,
        })
      : createServer({
          ciphers: PSK_CIPHERS,
          minVersion: TLS12,
          handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS,
          pskCallback: (_socket, identity) => (identity === auth.identity && key ? key : null),
        });
  // Failed handshakes are expected (that is the point); they must not crash the process.
  server.on("tlsClientError", () => {});
  await startListening(server, formatChannelUrl({ kind: "tls", host, port }), { host, port });
  const addr = server.address();
  const url = formatChannelUrl({
    kind: "tls",
    host,
    port: typeof addr === "object" && addr ? addr.port : port,
  });
  return new SocketListener(server, url, "secureConnection", (s) => {
    s.setNoDelay(true);
    return new SocketTargetChannel(s, `tls://${s.remoteAddress}:${s.remotePort}`, CAPS);
  });
}
