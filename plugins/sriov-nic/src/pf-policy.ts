/**
 * What the PF (or eswitch) of each host decides for a VF, outside the VF's BAR: the
 * administrator's MAC and port VLAN, spoof checking, trust. Libvirt programs these on
 * each host from the domain definition, so the target is provisioned with them before
 * the migration; the stream carries a copy only so the target can verify that it was.
 */
import { MdevError } from "@mdevkit/core";

/** PF-owned policy for one VF. */
export interface PfPolicy {
  /** The VF's MAC as the PF assigned it (48-bit). */
  readonly adminMac: number;
  /** Port VLAN (VMVIR) the PF inserts and strips; 0 for none. */
  readonly portVlan: number;
  /** Drop TX frames whose source MAC is not the VF's. */
  readonly spoofChk: boolean;
  /** Let the VF change its MAC and ask for promiscuous modes. */
  readonly trust: boolean;
}

/** What a host's PF can offer VFs: the target refuses a device it cannot provide for. */
export interface PfCapabilities {
  /** Queue pairs per VF this PF can give. */
  readonly queuePairs: number;
  /** Feature bits ({@link Feature}) this PF's VFs implement. */
  readonly features: number;
  /** Highest mailbox API revision this PF speaks. */
  readonly mbxApi: number;
  /** Whether this host lets a VF be trusted. */
  readonly allowTrust: boolean;
  /**
   * Ticks the PF takes to answer a mailbox request, by the request's message id
   * (deterministic). The default answers in 1–2 ticks.
   */
  readonly mailboxDelay?: (messageId: number) => number;
}

/** Checks a policy's fields. @throws MdevError EINVAL naming the bad field. */
export function checkPfPolicy(p: PfPolicy): void {
  if (!Number.isSafeInteger(p.adminMac) || p.adminMac <= 0 || p.adminMac >= 2 ** 48)
    throw new MdevError("EINVAL", `PF policy adminMac ${p.adminMac} is not a 48-bit MAC`);
  if (Math.floor(p.adminMac / 2 ** 40) % 2 === 1)
    throw new MdevError("EINVAL", "PF policy adminMac is a multicast address");
  if (!Number.isInteger(p.portVlan) || p.portVlan < 0 || p.portVlan > 4094)
    throw new MdevError("EINVAL", `PF policy portVlan ${p.portVlan} is not 0–4094`);
}
