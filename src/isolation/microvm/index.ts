/** The `microvm` tier (QEMU microvm guests); see driver.ts. */
export { MicrovmDriver, type MicrovmDriverOptions } from './driver.ts';
export { MicrovmSandbox } from './sandbox.ts';
