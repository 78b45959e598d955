/**
 * The virtual OpRegion (8 KiB, `INTEL_GVT_OPREGION_PAGES`): the ACPI mailbox the guest
 * finds at the address it wrote to ASLS, with its signature, a mailbox header and a VBT
 * at 0x400. The guest driver writes the SWSCI mailbox; the rest is firmware data.
 */

/** OpRegion size. */
export const OPREGION_BYTES = 8192;
/** Offset of the VBT. */
export const VBT_OFFSET = 0x400;
/** Offset of the SWSCI mailbox's command/status dword (mailbox 2 at 0x200). */
export const SWSCI_SCIC = 0x200;
const SIGNATURE = "IntelGraphicsMem";

/** The power-on OpRegion: signature, version 2.0, mailboxes SWSCI+ASLE, a `$VBT` header. */
export function buildOpRegion(): Uint8Array {
  const r = new Uint8Array(OPREGION_BYTES);
  for (let i = 0; i < SIGNATURE.length; i++) r[i] = SIGNATURE.charCodeAt(i);
  const v = new DataView(r.buffer);
  v.setUint32(0x10, OPREGION_BYTES / 1024, true); // size in KiB
  v.setUint32(0x14, 0x0200_0000, true); // version 2.0
  v.setUint32(0x58, 0x0000_0007, true); // mailboxes: ACPI, SWSCI, ASLE
  const vbt = "$VBT SKYLAKE        ";
  for (let i = 0; i < vbt.length; i++) r[VBT_OFFSET + i] = vbt.charCodeAt(i);
  v.setUint32(VBT_OFFSET + 0x18, 0x1000, true); // VBT size
  return r;
}
