/**
 * A controller that dies: started by microvm.test.ts with a config file, it boots one microvm
 * sandbox running `sleep 600`, prints `<sandbox id> <VMM pid>` and waits to be killed (-9).
 */
import { readFileSync } from 'node:fs';
import { configSchema } from '../../src/config/config.ts';
import { resolveImage } from '../../src/images/store.ts';
import { MicrovmDriver, type MicrovmSandbox } from '../../src/isolation/microvm/index.ts';

const config = configSchema.parse(JSON.parse(readFileSync(process.argv[2] as string, 'utf8')));
const id = process.argv[3] as string;
const image = await resolveImage(config, config.defaultImage);
const sandbox = (await new MicrovmDriver({ config }).create({
  id, image, env: { PATH: '/usr/bin:/bin' }, mounts: [], workdir: '/tmp', network: { kind: 'isolated' },
  limits: { memoryMb: 64, cpuCores: 1, pids: 16, timeoutSeconds: 600, scratchMb: 8, outputBytes: 1 << 20, openFiles: 64 },
})) as MicrovmSandbox;
await sandbox.start({ argv: ['sleep', '600'], stdin: false });
process.stdout.write(`${id} ${sandbox.vmmPid}\n`);
setInterval(() => undefined, 1 << 30);
