import { isIP } from "node:net";
import { MdevError, parseChannelUrl } from "@mdevkit/core";

/** True for names and addresses that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h === "::1") return true;
  return isIP(h) === 4 && h.startsWith("127.");
}

/**
 * Refuses to listen with plain TCP anywhere but loopback unless the operator says so: the
 * stream carries all of a guest's memory and anyone who reaches the port can feed the
 * target a VM. TLS (certificates or a PSK) authenticates and encrypts; UNIX sockets are
 * guarded by file permissions.
 * @throws MdevError EPERM naming the address and the ways out.
 */
export function checkListenExposure(url: string, insecureBind: boolean): void {
  const parsed = parseChannelUrl(url);
  if (parsed.kind !== "tcp" || insecureBind || isLoopbackHost(parsed.host)) return;
  throw new MdevError(
    "EPERM",
    `${url} is reachable from the network without authentication; listen on tls:// with --psk-file or certificates, or add --insecure-bind to accept that risk`,
  );
}
