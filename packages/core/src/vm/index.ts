export { InterruptCounter } from "./interrupt-counter.js";
export {
  SimulatedVm,
  VECTORS_PER_DEVICE,
  type VmCreateOptions,
  type VmDevice,
} from "./simulated-vm.js";
export { Vcpu } from "./vcpu.js";
export { VcpuThreads } from "./vcpu-threads.js";
export {
  type DeviceConfig,
  deviceConfigSchema,
  MAX_VM_MEMORY_MIB,
  parseVmConfig,
  type VmConfig,
  type VmConfigInput,
  vmConfigJsonSchema,
  vmConfigSchema,
  type Workload,
  workloadSchema,
} from "./vm-config.js";
export { createPagePicker, type PagePicker } from "./workload-pattern.js";
