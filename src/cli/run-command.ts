/** The `airlock run` implementation: plan → admission (with the driver, image and denial reader prepared meanwhile) → executeOnce → report. */
import { loadConfig, type AirlockConfig } from '../config/config.ts';
import type { SecretValue } from '../secrets/index.ts';
import { RefusedControlError } from '../host/control-error.ts';
import { rememberedManifestStamps } from '../images/verified-manifests.ts';
import { executeOnce, type ExecutionRequest } from '../sandbox/execute.ts';
import { activePolicyHash } from '../sandbox/policy-bundle.ts';
import { admitRun } from './run-admission.ts';
import type { ExecutionResult } from '../sandbox/result.ts';
import { parseRunOptions, type RawRunOptions, type RunPlan } from './run-options.ts';
import { withImageDefaults } from './run-image-defaults.ts';
import { openRunRecording, recordRunEnd, type RunRecording } from './run-record.ts';
import { terminalSafe, terminalSafeJson } from './terminal-text.ts';
import { UsageError } from './usage-error.ts';
import { exitCodeOf, reportEnding } from './run-ending.ts';
import { codeFromStdin } from './run-code.ts';
import { loopbackAllowNote } from './sandbox-options.ts';
import { withOwnerWrites } from '../isolation/grants/owner-writes.ts';
import { NetworkManager } from '../network/manager.ts';
import { NetworkPolicyError } from '../network/policy.ts';
import { interruptOnSignals } from './run-interrupt.ts';
import { prepareRun, type RunPreparation } from './run-prepare.ts';

/** Runs the command and returns the exit code for the CLI. */
export async function runCommand(command: string[], raw: RawRunOptions, configPath: string | undefined): Promise<number> {
  const config = loadConfig(configPath);
  // A manifest hashed to its digest before (and unchanged since) is not hashed again: see verified-manifests.ts.
  const stamps = await rememberedManifestStamps(config);
  // An imported image's env, and its default command when none is given (before admission sees the argv).
  const withDefaults = await withImageDefaults(command, raw, config, stamps);
  const parsed = parseRunOptions(withDefaults.raw, withDefaults.command, config, process.cwd());
  // Writable grants of the caller's own directories are written as the caller (before admission sees them).
  const plan = { ...parsed, mounts: withOwnerWrites(parsed.mounts, process.getuid?.()) };
  const loopbackNote = loopbackAllowNote(plan.network.allowedHosts);
  if (loopbackNote !== undefined) process.stderr.write(`airlock: ${loopbackNote}\n`);
  // From here on a signal cancels the run like a timeout does and the CLI exits once all is torn down.
  const interrupt = interruptOnSignals();
  const recording = openRunRecording(config);
  const preparation = prepareRun(plan, config, stamps, withDefaults.resolved);
  try {
    const code = await admittedRun(plan, raw, config, { recording, preparation }, interrupt.signal);
    return interrupt.exitCode() ?? code;
  } finally {
    await preparation.release();
    await recording.then((r) => r.close(), () => undefined);
    interrupt.dispose();
  }
}

/** What a run opened before its admission: the store it records in and its preparations. */
interface RunOpenings {
  recording: Promise<RunRecording>;
  preparation: RunPreparation;
}

/** Admits the plan (recorded before anything starts), runs it, records how it ended. */
async function admittedRun(plan: RunPlan, raw: RawRunOptions, config: AirlockConfig, { recording, preparation }: RunOpenings, signal: AbortSignal): Promise<number> {
  const admission = await admitRun(plan, config, raw.approval, recording, preparation.resolved);
  if (!admission.admitted) return admission.exitCode;
  // The same policy_hash `airlock serve` reports for this configuration.
  const policyHash = activePolicyHash(config, admission.bundleHash);
  let stdin: ExecutionRequest['stdin'];
  if (plan.language !== undefined) {
    stdin = plan.code ?? (await codeFromStdin());
  } else if (!process.stdin.isTTY) {
    // Piped input is forwarded; a terminal never is (no TIOCSTI path back to the caller's tty).
    stdin = process.stdin;
  }
  const network = new NetworkManager({ config });
  try {
    await network.validate(plan.network);
  } catch (err) {
    if (err instanceof NetworkPolicyError) throw new UsageError(`--allow/--service: ${err.message}`);
    throw err;
  }
  const secrets = await resolveRunSecrets(config, plan.secrets);
  const driver = await preparation.driver;
  const image = await preparation.image;
  const request: ExecutionRequest = {
    image,
    limits: plan.limits,
    env: plan.env,
    mounts: plan.mounts,
    workdir: plan.workdir,
    argv: plan.argv,
    network: plan.network,
    signal,
    ...(secrets.length === 0 ? {} : { secrets }),
  };
  if (stdin !== undefined) request.stdin = stdin;
  // The command's own output is passed through as bytes (like ssh or docker run): it is what was asked for.
  if (!plan.json) {
    request.onStdout = (chunk) => process.stdout.write(chunk);
    request.onStderr = (chunk) => process.stderr.write(chunk);
  }
  let result: ExecutionResult;
  const denials = await preparation.denials;
  try {
    result = await executeOnce(request, { driver, network, policyHash, denials: denials.reporting });
  } catch (err) {
    // A control refused the request (a grant, the workdir): nothing ran, exit 1 naming the control.
    if (!(err instanceof RefusedControlError)) throw err;
    process.stderr.write(`airlock: sandbox not started, refused: ${terminalSafe(err.message, { keepLayout: true })}\n`);
    return 1;
  } finally {
    await preparation.release();
    await network.close();
  }
  const receipt = await recordRunEnd(await recording, admission.owner, admission.spec, result);
  if (plan.json) {
    process.stdout.write(`${terminalSafeJson({ ...result, receipt })}\n`);
  } else {
    reportEnding(result);
  }
  return exitCodeOf(result);
}

/** The admitted secrets' values; an unknown one is the caller's error, naming it. */
async function resolveRunSecrets(config: AirlockConfig, names: readonly string[] | undefined): Promise<SecretValue[]> {
  if (names === undefined || names.length === 0) return [];
  // Loaded only for a run given secrets.
  const { secretRegistryFor, UnknownSecretError } = await import('../secrets/index.ts');
  try {
    const resolved = await secretRegistryFor(config).resolve(names);
    const brokered = resolved.filter((r) => r.delivery.kind === 'brokered').map((r) => r.name);
    // Why refuse: only the controller's egress proxy swaps a brokered value in; a local run would hand the sandbox a useless placeholder.
    if (brokered.length > 0) throw new UsageError(`--secret: ${brokered.join(', ')} brokered to destinations (secrets.bind): run it through the controller with network_policy restricted`);
    return resolved.map((r) => r.value);
  } catch (err) {
    if (err instanceof UnknownSecretError) throw new UsageError(`--secret: ${err.message}`);
    throw err;
  }
}
