import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  detailOf,
  deviceCallsSettled,
  devicesStillBusy,
  MdevError,
  type MdevHost,
  MigrationError,
  type MigrationOptionsInput,
  type MigrationResult,
  MigrationSource,
  migStateName,
  parseChannelUrl,
  parseMigrationOptions,
  ramSha256,
  type SimulatedVm,
  saveVm,
  TOKENS,
} from "@mdevkit/core";
import { EventLinesSink } from "../event-lines-sink.js";
import { emitEvent } from "../events.js";
import { machineDescription } from "../machine.js";
import { showProgress } from "../progress.js";
import { renderHtmlReport } from "../report/html-report.js";
import { migrationSummary } from "../summary.js";
import { channelOptions, type TlsFlags } from "../tls-options.js";
import { channelsOf, startSourceVm, type VmSetupOptions } from "../vm-setup.js";

/** Options of `mdevkit migrate`. */
export interface MigrateOptions extends TlsFlags, VmSetupOptions {
  readonly to: string;
  readonly warmup: number;
  readonly events: boolean;
  readonly json: boolean;
  readonly report?: string;
  readonly migration: MigrationOptionsInput;
  /** After a failed migration, keep the VM running this long and show it still changes. */
  readonly thenRun: number;
  /** After a failed migration, try again to this URL. */
  readonly retryTo?: string;
}

/**
 * `mdevkit migrate`: builds the VM (from `--config` or the demo default), lets it run for
 * `--warmup` ms, and live-migrates it to `--to`.
 *
 * The first SIGINT cancels at once, like QEMU's `migrate_cancel`: a migration in flight is
 * rolled back (the VM runs on here until the command exits), no retry or `--then-run`
 * follows, and the command fails with one line. Only the first is caught: a second one
 * finds Node's default handler and ends the process, so no SIGINT is ever swallowed.
 */
export async function migrateCommand(options: MigrateOptions): Promise<void> {
  // Addresses, credentials and option combinations (e.g. a switchover timeout below the
  // downtime limit) are checked before a VM is built and warmed up for them.
  for (const url of [options.to, options.retryTo]) {
    if (url === undefined) continue;
    parseChannelUrl(url);
    channelOptions(options, url);
  }
  parseMigrationOptions(options.migration);
  const interrupt = new AbortController();
  const onSigint = (): void => interrupt.abort(new MdevError("ECANCELED", "interrupted (SIGINT)"));
  process.once("SIGINT", onSigint);
  try {
    await buildAndMigrate(options, interrupt.signal);
  } finally {
    process.off("SIGINT", onSigint);
  }
}

async function buildAndMigrate(options: MigrateOptions, interrupted: AbortSignal): Promise<void> {
  const { host, vm } = await startSourceVm(options);
  if (options.events) host.container.register(TOKENS.EventSink, { useValue: new EventLinesSink() });
  try {
    await sleep(options.warmup, undefined, { signal: interrupted }).catch(() => {
      throw new MdevError("ECANCELED", "interrupted (SIGINT) before the migration started");
    });
    try {
      await migrateOnce(host, vm, options.to, options, interrupted);
    } catch (err) {
      if (!(err instanceof MigrationError)) throw err;
      const failure = await reportFailure(host, vm, err, options, false);
      if (failure !== err) throw failure;
      if (interrupted.aborted && err.rolledBack) throw ranOn(err);
      if (!err.rolledBack || (options.thenRun === 0 && options.retryTo === undefined)) throw err;
      if (!options.events)
        process.stderr.write(`${err.message}\nthe VM was rolled back and runs on here\n`);
      if (options.thenRun > 0) await proveStillRunning(vm, options, interrupted);
      // A SIGINT during --then-run ends the command there: no retry after a cancel.
      if (interrupted.aborted) throw ranOn(err);
      if (options.retryTo === undefined) throw err;
      await awaitAbandonedCalls(vm, options, interrupted);
      if (interrupted.aborted) throw ranOn(err);
      await migrateOnce(host, vm, options.retryTo, options, interrupted).catch(
        async (retryErr: unknown) => {
          throw retryErr instanceof MigrationError
            ? await reportFailure(host, vm, retryErr, options, true)
            : retryErr;
        },
      );
    }
  } finally {
    await vm.destroy();
  }
}

/**
 * Before `--retry-to`: a device whose driver call the failed migration gave up on is
 * returned to RUNNING once that call finishes, and no migration may call into it before.
 * Waits for that up to the peer timeout (a SIGINT ends the wait); a device still busy then
 * makes the retry fail at once with EBUSY, naming it, with the VM running on here.
 */
async function awaitAbandonedCalls(
  vm: SimulatedVm,
  options: MigrateOptions,
  interrupted: AbortSignal,
): Promise<void> {
  const busy = devicesStillBusy(vm.devices);
  if (busy.length === 0) return;
  const ms = parseMigrationOptions(options.migration).peerTimeoutMs;
  const slots = busy.map((d) => d.config.slot).join(", ");
  const which = busy.length === 1 ? `device ${slots}` : `devices ${slots}`;
  if (!options.events)
    process.stderr.write(
      `waiting up to ${ms} ms for ${which} to finish a driver call of the failed migration before retrying\n`,
    );
  const settled = new AbortController();
  await Promise.race([
    deviceCallsSettled(vm.devices).finally(() => settled.abort()),
    sleep(ms, undefined, { signal: AbortSignal.any([interrupted, settled.signal]) }).catch(
      () => undefined,
    ),
  ]);
  settled.abort();
  if (options.events) return;
  const still = devicesStillBusy(vm.devices);
  for (const d of busy.filter((b) => !still.includes(b))) {
    process.stderr.write(
      `device ${d.config.slot} finished its driver call and is in ${migStateName(d.driver.getState())}\n`,
    );
  }
}

/**
 * A failed migration attempt: an unresolved handover keeps the VM in a file (the error then
 * says where), and with `--events` the failure is an `error` line. Returns the error to
 * report.
 */
async function reportFailure(
  host: MdevHost,
  vm: SimulatedVm,
  err: MigrationError,
  options: MigrateOptions,
  retry: boolean,
): Promise<MigrationError> {
  const failure =
    err.phase === "handover" && !err.rolledBack ? await keepUnresolvedVm(host, vm, err) : err;
  if (options.events) {
    emitEvent({
      event: "error",
      code: failure.code,
      message: failure.message,
      rolledBack: failure.rolledBack,
      phase: failure.phase,
      ...(retry ? { retry: true } : {}),
    });
  }
  return failure;
}

/** The error of a migration cut by SIGINT, saying where the VM is (one line). */
function ranOn(err: MigrationError): MigrationError {
  return new MigrationError(
    err.code,
    err.phase,
    `${err.reason}; the VM was rolled back and ran on here until mdevkit exited`,
    { cause: err, rolledBack: true, problems: err.problems },
  );
}

async function migrateOnce(
  host: MdevHost,
  vm: SimulatedVm,
  url: string,
  options: MigrateOptions,
  interrupted: AbortSignal,
): Promise<MigrationResult> {
  // An unreachable target is a rolled-back failure: nothing was touched yet.
  const source = await MigrationSource.connect(
    host,
    vm,
    url,
    { ...options.migration, verifyRam: options.migration.verifyRam ?? false },
    channelOptions(options, url),
  );
  // With --events the host's event sink (registered in migrateCommand) prints the lines.
  const stop = options.events || options.json ? () => {} : showProgress(source, vm.memory.pages);
  const onInterrupt = (): void => source.cancel("interrupted (SIGINT)");
  if (interrupted.aborted) onInterrupt();
  else interrupted.addEventListener("abort", onInterrupt, { once: true });
  try {
    const result = await source.migrate();
    stop();
    const devices = vm.describeDevices();
    if (options.events)
      emitEvent({ event: "result", role: "source", result: { ...result, devices } });
    else if (options.json)
      process.stdout.write(`${JSON.stringify({ ...result, devices }, null, 2)}\n`);
    else process.stdout.write(`${migrationSummary(result)}\n`);
    if (options.report) {
      await writeFile(
        options.report,
        renderHtmlReport(result, {
          vmName: vm.config.name,
          destination: url,
          machine: machineDescription(),
          date: new Date().toISOString(),
        }),
      );
    }
    return result;
  } catch (err) {
    stop();
    throw err;
  } finally {
    interrupted.removeEventListener("abort", onInterrupt);
  }
}

async function proveStillRunning(
  vm: SimulatedVm,
  options: MigrateOptions,
  interrupted: AbortSignal,
): Promise<void> {
  const before = vm.vcpuWrites;
  const digest = ramSha256(vm.memory);
  await sleep(options.thenRun, undefined, { signal: interrupted }).catch(() => undefined);
  if (interrupted.aborted) return;
  const after = vm.vcpuWrites;
  const changed = ramSha256(vm.memory) !== digest;
  if (options.events)
    emitEvent({
      event: "still-running",
      vcpuWritesBefore: before,
      vcpuWritesAfter: after,
      ramChanged: changed,
    });
  else
    process.stderr.write(
      `still running: ${after - before} page writes in ${options.thenRun} ms, RAM ${changed ? "changed" : "unchanged"}\n`,
    );
}

/**
 * GO went out but RESUMED never came back: the target may run the VM, so this side must not
 * (two copies would diverge), yet the target may also be dead. Rather than drop the only
 * copy we hold, save it to a file the operator can `mdevkit restore` once the target is
 * known to be gone.
 */
async function keepUnresolvedVm(
  host: MdevHost,
  vm: SimulatedVm,
  err: MigrationError,
): Promise<MigrationError> {
  const file = join(tmpdir(), `mdevkit-${vm.config.name}-${process.pid}-unresolved.save`);
  const reason = err.reason;
  try {
    await saveVm(vm, await channelsOf(host).connect(`file://${file}`));
    return new MigrationError(
      err.code,
      err.phase,
      `${reason}; the paused VM was saved to ${file} (restore it only if the target never ran it)`,
      { cause: err },
    );
  } catch (saveErr) {
    return new MigrationError(
      err.code,
      err.phase,
      `${reason}; saving the paused VM also failed: ${detailOf(saveErr)}`,
      { cause: err },
    );
  }
}
