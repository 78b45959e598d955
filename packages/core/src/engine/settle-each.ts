/**
 * Waits for every one of `calls` (one per device, started side by side) to settle, then
 * throws the first failure in their order, or returns their values. Unlike `Promise.all`,
 * nothing is left running when it throws: what comes next (a rollback, dropping the VM)
 * must not call into a device whose arc is still in flight.
 */
export async function settleEach<T>(calls: readonly Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(calls);
  const failed = settled.find((s) => s.status === "rejected");
  if (failed !== undefined) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}
