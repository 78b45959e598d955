import {
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_RECEIVE_IDLE_TIMEOUT_MS,
  detailOf,
  vmConfigJsonSchema,
} from "@mdevkit/core";
import { Argument, Command, InvalidArgumentError, Option } from "commander";
import { demoCommand } from "./commands/demo.js";
import { inspectCommand } from "./commands/inspect.js";
import {
  KEYGEN_KINDS,
  type KeygenKind,
  type KeygenOptions,
  keygenCommand,
} from "./commands/keygen.js";
import { CRASH_POINTS, listenCommand } from "./commands/listen.js";
import { migrateCommand } from "./commands/migrate.js";
import { type NewPluginOptions, newPluginCommand } from "./commands/new-plugin.js";
import { restoreCommand } from "./commands/restore.js";
import { saveCommand } from "./commands/save.js";
import {
  parseBandwidth,
  parseCount,
  parseCountOrZero,
  parseDuration,
  parseFormatVersion,
  parseMemoryMiB,
} from "./units.js";

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Adapts a throwing parser to commander's invalid-argument error. */
function arg<T>(parse: (text: string) => T): (text: string) => T {
  return (text) => {
    try {
      return parse(text);
    } catch (err) {
      throw new InvalidArgumentError(detailOf(err));
    }
  };
}

function tlsOptions(cmd: Command): Command {
  return cmd
    .option("--tls-cert <file>", "TLS: this side's certificate (PEM)")
    .option("--tls-key <file>", "TLS: this side's private key (PEM)")
    .option("--tls-ca <file>", "TLS: CA that the peer's certificate must chain to (PEM)")
    .option("--psk-file <file>", "TLS: pre-shared key, hex, at least 16 bytes")
    .option("--psk-identity <id>", "TLS: PSK identity", "mdevkit");
}

function migrationOptions(cmd: Command): Command {
  return cmd
    .option("--downtime-limit <ms>", "largest acceptable pause", arg(parseDuration), 300)
    .option(
      "--max-bandwidth <rate>",
      "link speed cap, e.g. 10Gbps (0 = uncapped)",
      arg(parseBandwidth),
      0,
    )
    .option("--max-iterations <n>", "precopy iterations before giving up", arg(parseCount), 30)
    .option(
      "--settle-passes <n>",
      "extra passes once the rest fits --downtime-limit, while each takes a quarter off it (0: switch over at once, like QEMU)",
      arg(parseCountOrZero),
      3,
    )
    .option("--auto-converge", "throttle vCPUs when precopy does not converge", false)
    .option("--no-switchover-ack", "do not wait for the target to load initial device data")
    .option("--no-p2p", "skip the RUNNING_P2P phase for multi-device VMs")
    .option("--verify-ram", "hash all guest RAM on both sides to prove it arrived identical", false)
    .option(
      "--format-version <n>",
      "stream format to write, for a target of an older mdevkit (2-5; default: this build's)",
      arg(parseFormatVersion),
    )
    .option(
      "--switchover-timeout <ms>",
      "longest the VM may stay paused before GO; then the source resumes it (default 10s, or twice --downtime-limit)",
      arg(parseDuration),
    )
    .option(
      "--peer-timeout <ms>",
      "longest wait for any one answer from the target (ACCEPT, a pass's acknowledgement, LOADED, RESUMED), or for it to take any of the stream's bytes (default 30s)",
      arg(parseDuration),
    );
}

/** The `mdevkit` command line. */
export function buildProgram(): Command {
  const program = new Command("mdevkit")
    .description(
      "Live migration of VMs that own VFIO mediated devices, with the vendor part in plugins",
    )
    .version("0.1.0")
    .option("--verbose", "print stack traces and causes on errors", false)
    // Usage errors surface as thrown CommanderErrors (subcommands inherit both settings):
    // the entry point prints them as one `mdevkit: EINVAL: …` line, like every other error.
    .exitOverride()
    .configureOutput({ outputError: () => {} });

  program
    .command("demo")
    .description(
      "migrate the seed's VM (vGPU, NIC VF, accelerator) between two local processes and show what happened",
    )
    .addOption(
      new Option("--transport <kind>", "loopback transport")
        .choices(["tcp", "unix"])
        .default("tcp"),
    )
    .option("--memory <MiB>", "guest RAM", arg(parseMemoryMiB), 2048)
    .option("--json", "print the result as JSON", false)
    .option("--report <file.html>", "write a self-contained HTML report with charts")
    .option("--max-bandwidth <rate>", "emulate a link (the seed's: 10Gbps)", "10Gbps")
    .option("--auto-converge", "throttle vCPUs if needed", false)
    .action(
      async (o: {
        transport: "tcp" | "unix";
        memory: number;
        json: boolean;
        report?: string;
        maxBandwidth?: string;
        autoConverge: boolean;
      }) => {
        const migrateArgs = [
          ...(o.maxBandwidth ? ["--max-bandwidth", o.maxBandwidth] : []),
          ...(o.autoConverge ? ["--auto-converge"] : []),
        ];
        await demoCommand({
          transport: o.transport,
          memory: o.memory,
          json: o.json,
          migrateArgs,
          ...(o.report ? { report: o.report } : {}),
        });
      },
    );

  tlsOptions(
    program
      .command("listen")
      .description("receive migrating VMs (binds 127.0.0.1 unless told otherwise)")
      .option(
        "--on <url>",
        "where to listen: tcp://HOST:PORT, tls://HOST:PORT, unix:///path",
        "tcp://127.0.0.1:4444",
      )
      .option("--once", "exit after one migration", false)
      .option(
        "--insecure-bind",
        "allow plain tcp:// on a non-loopback address (no authentication: anyone reaching it can send a VM)",
        false,
      )
      .option("--json", "print the result as JSON", false)
      .option("--events", "print machine-readable events, one JSON object per line", false)
      .option("--verify-ram", "hash all guest RAM before resuming (adds to downtime)", false)
      .option(
        "--run-for <ms>",
        "with --once: run the received VM this long before exiting",
        arg(parseDuration),
        0,
      )
      .option(
        "--prealloc <MiB>",
        "preallocate and prefault guest RAM of this size before accepting; VMs of another size are refused",
        arg(parseCount),
      )
      .option(
        "--max-memory <MiB>",
        "memory budget: most guest RAM hosted at once; larger VMs are refused before allocation (default: --prealloc, else half of this machine's RAM)",
        arg(parseCount),
      )
      .option(
        "--max-vcpus <n>",
        "refuse a VM with more vCPUs (default: four per CPU here, at least 8)",
        arg(parseCount),
      )
      .option(
        "--max-device-state <MiB>",
        "most device state an incoming VM's devices may send, all together; more fails its migration (default: 256)",
        arg(parseCount),
      )
      .option(
        "--vcpu-threads <n>",
        "start this many vCPU threads before accepting, so none starts up while a VM's RAM streams in (a VM with more vCPUs starts the rest)",
        arg(parseCountOrZero),
        0,
      )
      .option(
        "--handshake-timeout <ms>",
        "drop a connection that has not sent its HANDSHAKE within this time",
        arg(parseDuration),
        DEFAULT_HANDSHAKE_TIMEOUT_MS,
      )
      .option(
        "--idle-timeout <ms>",
        "drop a VM whose source sent nothing for this long while its state arrived",
        arg(parseDuration),
        DEFAULT_RECEIVE_IDLE_TIMEOUT_MS,
      )
      .option(
        "--plugin <module>",
        "load an extra plugin: a module file, a package directory or a package name from here (repeatable)",
        collect,
        [],
      )
      .addOption(
        new Option("--crash-at <point>", "fault injection: die by SIGKILL at this point")
          .choices(CRASH_POINTS)
          .hideHelp(),
      )
      .addOption(
        // Fault-harness knob (test/faults): a stalled source must outlast it within seconds.
        new Option("--go-timeout <ms>", "longest wait for GO after LOADED")
          .argParser(arg(parseDuration))
          .hideHelp(),
      ),
  ).action(async (o) => listenCommand(o));

  tlsOptions(
    migrationOptions(
      program
        .command("migrate")
        .description("run a VM here and live-migrate it to a listening target")
        .requiredOption("--to <url>", "target: tcp://HOST:PORT, tls://HOST:PORT, unix:///path")
        .option("--config <file>", "VM config (JSON); a 1 GiB VM with an mtty card when omitted")
        .option("--memory <MiB>", "override the VM's RAM size", arg(parseMemoryMiB))
        .option(
          "--warmup <ms>",
          "let the VM run this long before migrating",
          arg(parseDuration),
          500,
        )
        .option("--json", "print the result as JSON", false)
        .option("--events", "print machine-readable events, one JSON object per line", false)
        .option("--report <file.html>", "write a self-contained HTML report")
        .option(
          "--then-run <ms>",
          "if the migration fails: keep running this long and show the VM still changes",
          arg(parseDuration),
          0,
        )
        .option("--retry-to <url>", "if the migration fails: migrate again, to this target")
        .option(
          "--plugin <module>",
          "load an extra plugin: a module file, a package directory or a package name from here (repeatable)",
          collect,
          [],
        ),
    ),
  ).action(async (o) =>
    migrateCommand({
      ...o,
      migration: {
        downtimeLimitMs: o.downtimeLimit,
        maxBandwidth: o.maxBandwidth,
        maxIterations: o.maxIterations,
        settlePasses: o.settlePasses,
        autoConverge: o.autoConverge,
        switchoverAck: o.switchoverAck,
        p2p: o.p2p,
        verifyRam: o.verifyRam,
        ...(o.peerTimeout === undefined ? {} : { peerTimeoutMs: o.peerTimeout }),
        ...(o.switchoverTimeout === undefined ? {} : { switchoverTimeoutMs: o.switchoverTimeout }),
        ...(o.formatVersion === undefined ? {} : { formatVersion: o.formatVersion }),
      },
    }),
  );

  program
    .command("save")
    .description("run a VM, then save it to a file (like virsh save)")
    .argument("<file>", "where to write the saved VM")
    .option("--config <file>", "VM config (JSON); a 1 GiB VM with an mtty card when omitted")
    .option("--memory <MiB>", "override the VM's RAM size", arg(parseMemoryMiB))
    .option("--warmup <ms>", "let the VM run this long first", arg(parseDuration), 200)
    .option("--json", "print the result as JSON", false)
    .option(
      "--format-version <n>",
      "stream format to write, for a restore by an older mdevkit (2-5; default: this build's)",
      arg(parseFormatVersion),
    )
    .option(
      "--plugin <module>",
      "load an extra plugin: a module file, a package directory or a package name from here (repeatable)",
      collect,
      [],
    )
    .action(async (file: string, o) => saveCommand(file, o));

  program
    .command("restore")
    .description("restore a saved VM, checking every record and digest before it runs")
    .argument("<file>", "a file written by mdevkit save")
    .option("--run-for <ms>", "run the restored VM this long", arg(parseDuration), 200)
    .option("--verify-ram", "hash all of guest RAM after loading", false)
    .option(
      "--max-memory <MiB>",
      "refuse, before allocating, a saved VM with more guest RAM (default: half of this machine's RAM)",
      arg(parseCount),
    )
    .option(
      "--max-vcpus <n>",
      "refuse a saved VM with more vCPUs (default: four per CPU here, at least 8)",
      arg(parseCount),
    )
    .option(
      "--max-device-state <MiB>",
      "most device state the saved VM's devices may hold, all together; more fails the restore (default: 256)",
      arg(parseCount),
    )
    .option("--json", "print the result as JSON", false)
    .option(
      "--plugin <module>",
      "load an extra plugin: a module file, a package directory or a package name from here (repeatable)",
      collect,
      [],
    )
    .action(async (file: string, o) => restoreCommand(file, o));

  program
    .command("inspect")
    .description("decode a saved stream and print its records")
    .argument("<file>", "a file written by mdevkit save")
    .option("--json", "one JSON object per record", false)
    .option("--ram-records <n>", "show at most this many RAM_PAGES records", arg(parseCount), 20)
    .action(async (file: string, o) => inspectCommand(file, o));

  program
    .command("keygen")
    .description("make TLS material: a CA and server/client certificates, or a PSK file")
    .addArgument(
      new Argument("[kind]", "what to make (all: a CA, a server and a client identity)")
        .choices(KEYGEN_KINDS)
        .default("all"),
    )
    .option("--out <dir>", "directory for the files (created mode 0700)", "mdevkit-tls")
    .option("--name <stem>", "file name stem (default: server, client, or mdevkit for psk)")
    .option(
      "--host <name>",
      "a server certificate's DNS name or IP address (repeatable; default 127.0.0.1 and localhost)",
      collect,
      [],
    )
    .option("--days <n>", "certificate validity", arg(parseCount), 365)
    .option("--force", "overwrite existing files", false)
    .action(async (kind: KeygenKind, o: KeygenOptions) => {
      await keygenCommand(kind, o);
    });

  program
    .command("schema")
    .description("print the JSON Schema of VM config files")
    .action(() => {
      process.stdout.write(`${JSON.stringify(vmConfigJsonSchema(), null, 2)}\n`);
    });

  program
    .command("new-plugin")
    .description("scaffold a vendor plugin package that builds and passes the conformance suite")
    .argument(
      "<name>",
      "plugin name: lowercase letters, digits, hyphens (package @mdevkit/plugin-NAME)",
    )
    .option("--dir <folder>", "folder to create it in (default: <repo root>/plugins)")
    .option("--out <dir>", "create a standalone package in <dir>, outside any monorepo")
    .option("--core-tarball <file>", "with --out: depend on this npm-packed @mdevkit/core")
    .option(
      "--conformance-tarball <file>",
      "with --out: depend on this npm-packed @mdevkit/conformance",
    )
    .option("--from-packs <folder>", "with --out: take both packed tarballs from <folder>")
    .option(
      "--from-registry",
      "with --out: depend on the @mdevkit packages by version from your npm registry (they are not on the public one; without this, --out needs both tarballs)",
    )
    .option(
      "--no-register",
      "do not add it to the conformance matrix, the CLI's plugins and the fuzz suite",
    )
    .option("--install", "run npm install afterwards (repository root, or --out)", false)
    .action(async (name: string, o: NewPluginOptions) => {
      await newPluginCommand(name, o);
    });

  return program;
}
