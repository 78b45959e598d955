import { execFileSync } from "node:child_process";

/** Two network namespaces joined by a veth pair: a source host and a target host. */
export interface TwoHosts {
  readonly source: { readonly ns: string; readonly dev: string; readonly ip: string };
  readonly target: { readonly ns: string; readonly dev: string; readonly ip: string };
  /** `ip netns exec NS` for one side, to prefix a child's command. */
  wrap(side: "source" | "target"): string[];
  /** Takes the source's end of the link down (`up = false`) or up again. */
  link(up: boolean): void;
  /** Adds `tc netem` delay and loss on both ends; throws where the kernel lacks netem. */
  netem(delayMs: number, lossPercent: number): void;
  /** Deletes both namespaces (the veth pair goes with them). */
  remove(): void;
}

function ip(...args: string[]): void {
  execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
}

/**
 * Why two namespaces cannot be made here (not root, no `ip`, not permitted), or undefined
 * when they can — checked by making and deleting one.
 */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "not root: ip netns needs CAP_SYS_ADMIN";
  const probe = `mdvprobe${process.pid}`;
  try {
    ip("netns", "add", probe);
    ip("netns", "del", probe);
    return undefined;
  } catch (err) {
    return `ip netns add is not allowed here: ${(err as Error).message.split("\n")[0]}`;
  }
}

/** Makes the two hosts; `id` keeps names and subnet apart from other runs. */
export function twoHosts(id: number): TwoHosts {
  const tag = `mdv${id % 100_000}`;
  const subnet = `10.${200 + (id % 50)}.${id % 250}`;
  const source = { ns: `${tag}s`, dev: `${tag}a`, ip: `${subnet}.1` };
  const target = { ns: `${tag}t`, dev: `${tag}b`, ip: `${subnet}.2` };
  const remove = (): void => {
    for (const ns of [source.ns, target.ns]) {
      try {
        ip("netns", "del", ns);
      } catch {
        // Not made (setup failed early) or already gone.
      }
    }
  };
  try {
    ip("netns", "add", source.ns);
    ip("netns", "add", target.ns);
    ip("link", "add", source.dev, "type", "veth", "peer", "name", target.dev);
    for (const side of [source, target]) {
      ip("link", "set", side.dev, "netns", side.ns);
      ip("-n", side.ns, "addr", "add", `${side.ip}/24`, "dev", side.dev);
      ip("-n", side.ns, "link", "set", side.dev, "up");
      ip("-n", side.ns, "link", "set", "lo", "up");
    }
  } catch (err) {
    remove();
    throw err;
  }
  return {
    source,
    target,
    wrap: (side) => ["ip", "netns", "exec", side === "source" ? source.ns : target.ns],
    link: (up) => ip("-n", source.ns, "link", "set", source.dev, up ? "up" : "down"),
    netem: (delayMs, lossPercent) => {
      for (const side of [source, target]) {
        execFileSync(
          "ip",
          ["netns", "exec", side.ns, "tc", "qdisc", "add", "dev", side.dev, "root", "netem"].concat(
            ["delay", `${delayMs}ms`, "loss", `${lossPercent}%`],
          ),
          { stdio: ["ignore", "ignore", "pipe"] },
        );
      }
    },
    remove,
  };
}
