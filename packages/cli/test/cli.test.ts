// The mdevkit command as users run it: a real process per test, from bin/mdevkit.js (so
// the package must be built, which turbo's test task ensures).
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { MDEVKIT_BIN } from "../src/child.js";
import { migrateSmallVmArgs } from "./listen-helpers.js";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const running = new Set<ChildProcess>();

afterEach(() => {
  for (const child of running) if (child.exitCode === null) child.kill("SIGKILL");
  running.clear();
});

function mdevkit(args: readonly string[]): Promise<Run> {
  const child = spawn(process.execPath, [MDEVKIT_BIN, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => {
    stdout += s;
  });
  child.stderr.setEncoding("utf8").on("data", (s: string) => {
    stderr += s;
  });
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
}

/** Lines of `text` that are not empty. */
const lines = (text: string): string[] => text.split("\n").filter((l) => l !== "");

/** A 16 MiB VM migrated at once to a port where nothing listens: the connect fails. */
const MIGRATE_TO_NOTHING = [
  "migrate",
  "--to",
  "tcp://127.0.0.1:1",
  "--memory",
  "16",
  "--warmup",
  "0",
] as const;

describe("mdevkit schema", () => {
  it("prints the JSON Schema of VM config files", async () => {
    const run = await mdevkit(["schema"]);
    expect(run.code, run.stderr).toBe(0);
    const schema = JSON.parse(run.stdout) as {
      $schema: string;
      type: string;
      properties: Record<string, { type?: string; minimum?: number; maximum?: number }>;
      required?: string[];
    };
    expect(schema.$schema).toMatch(/json-schema\.org\/draft\/2020-12/);
    expect(schema.type).toBe("object");
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(["name", "memoryMiB", "vcpus", "devices", "workloads", "seed"]),
    );
    expect(schema.properties.memoryMiB).toMatchObject({
      type: "integer",
      minimum: 1,
      maximum: 16384,
    });
    expect(schema.required).toEqual(["memoryMiB"]);
  });
});

describe("errors", () => {
  it("a migration with nothing listening: exit 1 and one `mdevkit: ...` line", async () => {
    const run = await mdevkit(MIGRATE_TO_NOTHING);
    expect(run.code, run.stderr).toBe(1);
    expect(lines(run.stderr), run.stderr).toHaveLength(1);
    expect(run.stderr).toMatch(/^mdevkit: E[A-Z]+: .*127\.0\.0\.1:1/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.stdout).toBe("");
  });

  it("nothing listening: the code and the address are said once", async () => {
    const run = await mdevkit(MIGRATE_TO_NOTHING);
    expect(lines(run.stderr)).toEqual([
      "mdevkit: ECONNREFUSED: migration failed during handshake: tcp://127.0.0.1:1: cannot connect",
    ]);
  });

  it("with --events, a failed --retry-to attempt is an error line too, marked as the retry", async () => {
    const run = await mdevkit([
      ...MIGRATE_TO_NOTHING,
      "--retry-to",
      "tcp://127.0.0.1:2",
      "--events",
    ]);
    expect(run.code, run.stderr).toBe(1);
    const errors = lines(run.stdout)
      .map((l) => JSON.parse(l) as { event: string; retry?: boolean; message: string })
      .filter((e) => e.event === "error");
    expect(errors).toHaveLength(2);
    expect(errors[0]).not.toHaveProperty("retry");
    expect(errors[0]?.message).toMatch(/127\.0\.0\.1:1/);
    expect(errors[1]).toMatchObject({
      retry: true,
      message: expect.stringMatching(/127\.0\.0\.1:2/),
    });
  });

  it.each(["--handshake-timeout", "--idle-timeout"])(
    "listen %s 0 is refused before listening, naming the flag",
    async (flag) => {
      const run = await mdevkit(["listen", flag, "0", "--once"]);
      expect(run.code, run.stderr).toBe(1);
      expect(lines(run.stderr)).toEqual([`mdevkit: EINVAL: ${flag} must be at least 1 ms`]);
    },
  );

  it("an unreadable VM config is refused naming the file", async () => {
    const run = await mdevkit([
      "migrate",
      "--to",
      "tcp://127.0.0.1:1",
      "--config",
      "/nonexistent/vm.json",
    ]);
    expect(run.code, run.stderr).toBe(1);
    expect(lines(run.stderr)).toEqual([
      expect.stringMatching(/^mdevkit: ENOENT: cannot read VM config \/nonexistent\/vm\.json/),
    ]);
  });

  it("a --plugin module that is missing is ENOENT; one that throws as it loads, or a folder that is no package, is EINVAL", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mdevkit-plugin-"));
    try {
      const broken = join(dir, "broken.mjs");
      writeFileSync(broken, 'throw new Error("vendor bug at load");\n');
      const cases: [string, RegExp][] = [
        [join(dir, "missing.mjs"), /^mdevkit: ENOENT: cannot load plugin module .*missing\.mjs/],
        [broken, /^mdevkit: EINVAL: cannot load plugin module .*broken\.mjs: vendor bug at load/],
        // A folder is a package directory: without a package.json, one line says so.
        [
          dir,
          /^mdevkit: EINVAL: cannot load plugin module .*: .* is a directory without package\.json/,
        ],
      ];
      for (const [plugin, expected] of cases) {
        const run = await mdevkit(["migrate", "--to", "tcp://127.0.0.1:1", "--plugin", plugin]);
        expect(run.code, run.stderr).toBe(1);
        expect(lines(run.stderr)).toEqual([expect.stringMatching(expected)]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a device whose options its plugin refuses is named, on migrate --config and save --config", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mdevkit-options-"));
    try {
      const config = join(dir, "vm.json");
      writeFileSync(
        config,
        JSON.stringify({
          memoryMiB: 16,
          devices: [
            { slot: "00:05.0", plugin: "mtty", deviceType: "mtty-1" },
            {
              slot: "00:02.0",
              plugin: "gvt-g",
              deviceType: "GVTg_V5_4",
              options: { profile: "ultra" },
            },
          ],
        }),
      );
      for (const args of [
        ["migrate", "--to", "tcp://127.0.0.1:1", "--config", config, "--warmup", "0"],
        ["save", join(dir, "vm.save"), "--config", config, "--warmup", "0"],
      ]) {
        const run = await mdevkit(args);
        expect(run.code, run.stderr).toBe(1);
        expect(lines(run.stderr)).toEqual([
          expect.stringMatching(
            /^mdevkit: EINVAL: device 00:02\.0 \(gvt-g GVTg_V5_4\): .*profile: .*"default"\|"heavy"$/,
          ),
        ]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a VM config path that is a folder says so (EISDIR), not that it is missing", async () => {
    const run = await mdevkit(["migrate", "--to", "tcp://127.0.0.1:1", "--config", tmpdir()]);
    expect(run.code, run.stderr).toBe(1);
    expect(lines(run.stderr)).toEqual([
      expect.stringMatching(/^mdevkit: EISDIR: cannot read VM config /),
    ]);
  });

  it("a bad flag value is refused before anything starts, naming the value", async () => {
    const run = await mdevkit(["migrate", "--to", "tcp://127.0.0.1:1", "--max-bandwidth", "lots"]);
    expect(run.code, run.stderr).not.toBe(0);
    expect(run.stderr).toMatch(/bandwidth "lots" is not like 10Gbps, 500MB\/s or 1000000/);
  });

  it("--verbose adds the stack trace", async () => {
    const run = await mdevkit(["--verbose", ...MIGRATE_TO_NOTHING]);
    expect(run.code, run.stderr).toBe(1);
    expect(lines(run.stderr)[0]).toMatch(/^mdevkit: /);
    expect(run.stderr).toMatch(/\n\s+at /);
  });
});

describe("usage errors", () => {
  it.each([
    [
      ["migrate", "--to", "tcp://127.0.0.1:1", "--memory", "0x40"],
      /--memory.*not a positive whole number/,
    ],
    [["migrate", "--to", "tcp://127.0.0.1:1", "--no-such-flag"], /unknown option '--no-such-flag'/],
    [["migrate"], /required option '--to <url>' not specified/],
    [
      ["migrate", "--to", "tcp://127.0.0.1:1", "--downtime-limit", "9999999999"],
      /longer than 2147483647 ms/,
    ],
  ])("%j prints one `mdevkit: EINVAL:` line and no help", async (args, problem) => {
    const run = await mdevkit(args);
    expect(run.code).toBe(1);
    expect(lines(run.stderr)).toHaveLength(1);
    expect(run.stderr).toMatch(/^mdevkit: EINVAL: /);
    expect(run.stderr).toMatch(problem);
    expect(run.stdout).toBe("");
  });
});

describe("bad input is refused in one line, before a VM is built", () => {
  const dir = mkdtempSync(join(tmpdir(), "mdevkit-cli-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("an unknown address scheme is named before the VM exists", async () => {
    const run = await mdevkit(["migrate", "--to", "bogus://x", "--memory", "16"]);
    expect(run.code).toBe(1);
    expect(lines(run.stderr)).toEqual([
      "mdevkit: EINVAL: bogus://x: expected tcp://HOST:PORT, tls://HOST:PORT, unix:///path or file:///path",
    ]);
  });

  it("a config that is not JSON is named without echoing its content", async () => {
    const path = join(dir, "secret.json");
    writeFileSync(path, "password=hunter2 {\n");
    const run = await mdevkit(["migrate", "--to", "tcp://127.0.0.1:1", "--config", path]);
    expect(run.code).toBe(1);
    expect(lines(run.stderr)).toHaveLength(1);
    expect(run.stderr).toMatch(/^mdevkit: EINVAL: VM config .*secret\.json is not JSON/);
    expect(run.stderr).not.toContain("hunter2");
  });

  it("a bad PEM file is named", async () => {
    const pem = join(dir, "bad.pem");
    writeFileSync(pem, "-----BEGIN CERTIFICATE-----\ngarbage\n");
    const run = await mdevkit([
      "migrate",
      "--to",
      "tls://127.0.0.1:1",
      "--tls-cert",
      pem,
      "--tls-key",
      pem,
      "--tls-ca",
      pem,
    ]);
    expect(run.code).toBe(1);
    expect(lines(run.stderr)).toEqual([`mdevkit: EINVAL: ${pem} is not a PEM certificate`]);
  });
});

describe("mdevkit listen's summary", () => {
  const dir = mkdtempSync(join(tmpdir(), "mdevkit-listen-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("gives the bytes received in units, as migrate's summary gives its bytes", async () => {
    const socket = join(dir, "target.sock");
    const target = mdevkit(["listen", "--on", `unix://${socket}`, "--once"]);
    for (let i = 0; i < 600 && !existsSync(socket); i++)
      await new Promise((r) => setTimeout(r, 50));
    const source = await mdevkit(migrateSmallVmArgs(`unix://${socket}`));
    expect(source.code, source.stderr).toBe(0);
    const run = await target;
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/VM demo-vm received and running/);
    const onWire = /bytes on the wire\s+(\S+ [kMG]?B)\n/.exec(source.stdout)?.[1];
    expect(onWire).toBeDefined();
    expect(run.stdout).toMatch(new RegExp(`bytes received\\s+${onWire}\\n`));
  });
});

describe("--help", () => {
  it("lists every command", async () => {
    const run = await mdevkit(["--help"]);
    expect(run.code, run.stderr).toBe(0);
    for (const command of ["demo", "listen", "migrate", "save", "restore", "inspect", "schema"]) {
      expect(run.stdout).toMatch(new RegExp(`^\\s+${command}\\b`, "m"));
    }
  });

  it("documents migrate's flags; the fault-injection flag of listen stays hidden", async () => {
    const migrate = await mdevkit(["migrate", "--help"]);
    expect(migrate.code).toBe(0);
    for (const flag of [
      "--to <url>",
      "--max-bandwidth",
      "--downtime-limit",
      "--auto-converge",
      "--psk-file",
      "--retry-to",
    ]) {
      expect(migrate.stdout).toContain(flag);
    }
    const listen = await mdevkit(["listen", "--help"]);
    expect(listen.code).toBe(0);
    expect(listen.stdout).toContain("--on <url>");
    expect(listen.stdout).not.toContain("--crash-at");
  });
});

describe("mdevkit demo", () => {
  it("migrates a 64 MiB VM between two processes and verifies RAM and devices", {
    timeout: 120_000,
  }, async () => {
    const run = await mdevkit(["demo", "--memory", "64", "--json"]);
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as {
      outcome: string;
      downtimeMs: number;
      totalTimeMs: number;
      ramBytes: number;
      ramSha256: string;
      devices: Record<string, unknown>;
      targetDevices: Record<string, unknown>;
      verification: { ramIdentical: boolean; devicesIdentical: boolean; transport: string };
      setup: { targetPreallocMs: number; sourceStartMs: number };
    };
    expect(out.outcome).toBe("completed");
    expect(out.verification).toMatchObject({
      ramIdentical: true,
      devicesIdentical: true,
      transport: "tcp",
    });
    // The verdict is backed by the data printed with it.
    expect(out.ramSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(out.targetDevices).toEqual(out.devices);
    expect(out.ramBytes).toBe(64 * 2 ** 20);
    expect(out.downtimeMs).toBeGreaterThan(0);
    expect(out.totalTimeMs).toBeGreaterThanOrEqual(out.downtimeMs);
    // The seed's VM: the vGPU, the NIC VF and the accelerator VF all arrived.
    expect(Object.keys(out.targetDevices)).toEqual(["00:02.0", "00:06.0", "00:07.0"]);
    // Preallocating the target's RAM and starting the source are phases of their own.
    expect(out.setup.targetPreallocMs).toBeGreaterThan(0);
    expect(out.setup.sourceStartMs).toBeGreaterThan(0);
  });
});
