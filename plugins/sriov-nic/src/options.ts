/**
 * Device options (the VM config's `options` for a sriov-nic device), validated with zod.
 * The PF policy fields are what an orchestrator provisions on every host the VM may run
 * on (libvirt's `<mac>` and `<vlan>` of a hostdev interface).
 */
import { MdevError } from "@mdevkit/core";
import { z } from "zod";
import { parseMac } from "./frame.js";
import { PROFILE_NAMES } from "./profile.js";
import { DEFAULT_ANNOUNCE } from "./wire/announce.js";

const macText = z
  .string()
  .refine((s) => parseMac(s) !== undefined, "must be a MAC like 02:00:00:00:00:01")
  .refine((s) => (parseMac(s)! / 2 ** 40) % 2 < 1, "must be a unicast MAC");

const announceSchema = z
  .object({
    initial: z.number().int().min(1).max(100_000).default(DEFAULT_ANNOUNCE.initial),
    max: z.number().int().min(1).max(100_000).default(DEFAULT_ANNOUNCE.max),
    rounds: z.number().int().min(0).max(1000).default(DEFAULT_ANNOUNCE.rounds),
    step: z.number().int().min(0).max(100_000).default(DEFAULT_ANNOUNCE.step),
  })
  .strict();

/** The options schema. */
export const nicOptionsSchema = z
  .object({
    /** Ring sizes and rates: `test` (small), `default`, `heavy` (≈ 10 GbE of RX). */
    profile: z.enum(PROFILE_NAMES).default("default"),
    /** The VF's MAC as the PF assigns it; derived from the device seed by default. */
    mac: macText.optional(),
    /** PF port VLAN (0: none). */
    portVlan: z.number().int().min(0).max(4094).default(0),
    /** PF anti-spoof check on the VF's TX. */
    spoofChk: z.boolean().default(true),
    /** PF trust (the VF may change its MAC). */
    trust: z.boolean().default(false),
    /** Guest-physical base of the guest driver's region; the top of guest RAM by default. */
    guestBase: z.number().int().min(0).multipleOf(4096).optional(),
    /** Run the guest driver model each tick (false: the guest is idle, the rings stay as programmed). */
    guest: z.boolean().default(true),
    /** Packets the guest enqueues per tick (the profile's by default). */
    txRate: z.number().int().min(0).max(1024).optional(),
    /** Packets per tick of the standalone wire, used until a switch port is connected (the profile's by default). */
    rxRate: z.number().int().min(0).max(4096).optional(),
    /** What the initiator suspend does with a half-gathered TX packet. */
    txPartialPolicy: z.enum(["drop", "refetch"]).default("drop"),
    /** `p2p-precopy` (all flags) or `stop-copy` (STOP_COPY only, the baseline). */
    migration: z.enum(["p2p-precopy", "stop-copy"]).default("p2p-precopy"),
    /** Most DMA-logging ranges the device tracks (E2BIG above: the VMM merges ranges). */
    maxDmaLogRanges: z.number().int().min(1).max(65535).optional(),
    /** Fault injection: every DMA-log report fails (the tracker's `is_err`). */
    dirtyLogFault: z.boolean().default(false),
    /** Announce timing of a migrated-in VF (QEMU's defaults). */
    announce: announceSchema.default(DEFAULT_ANNOUNCE),
  })
  .strict();

/** Validated options. */
export type NicOptions = z.output<typeof nicOptionsSchema>;

/** Parses device options. @throws MdevError EINVAL listing every problem. */
export function parseNicOptions(raw: Readonly<Record<string, unknown>>): NicOptions {
  const r = nicOptionsSchema.safeParse(raw);
  if (!r.success) throw new MdevError("EINVAL", `sriov-nic options: ${z.prettifyError(r.error)}`);
  return r.data;
}

/** The default MAC of a device: locally administered, unicast, from the device seed. */
export function defaultMac(seed: number): number {
  return 0x020000000000 + (seed >>> 0);
}
