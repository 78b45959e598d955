// Baseline for the migration benchmark: the same number of bytes through a bare TCP socket
// between two processes, in 1 MiB writes — what the link does with no migration logic.
import { fork } from "node:child_process";
import net from "node:net";

if (process.argv[2] === "receiver") {
  const server = net.createServer((sock) => {
    let got = 0;
    const want = Number(process.argv[3]);
    sock.on("data", (d) => {
      // The sender writes whole 1 MiB chunks, so bytes may still arrive after `want`.
      if (got >= want) return;
      got += d.length;
      if (got >= want) {
        sock.end("done");
        server.close();
      }
    });
  });
  server.listen(0, "127.0.0.1", () => process.send?.(server.address().port));
} else if (process.argv[1] === new URL(import.meta.url).pathname) {
  const bytes = Number(process.argv[2] ?? 2 ** 31);
  console.log(JSON.stringify(await bareSocket(bytes)));
}

/** Sends `bytes` through a bare loopback socket to a child process; returns the rate. */
export async function bareSocket(bytes) {
  const child = fork(new URL(import.meta.url).pathname, ["receiver", String(bytes)]);
  const port = await new Promise((r) => child.once("message", r));
  const chunk = Buffer.alloc(1 << 20, 0x5a);
  const sock = net.connect(port, "127.0.0.1");
  await new Promise((r) => sock.once("connect", r));
  const t0 = performance.now();
  const done = new Promise((r) => sock.once("data", r));
  for (let sent = 0; sent < bytes; sent += chunk.length) {
    if (!sock.write(chunk)) await new Promise((r) => sock.once("drain", r));
  }
  await done;
  const ms = performance.now() - t0;
  sock.destroy();
  child.kill();
  return { bytes, ms, bytesPerSecond: (bytes / ms) * 1000 };
}
