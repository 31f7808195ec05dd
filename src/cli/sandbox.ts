/**
 * `airlock sandbox create|exec|ls|kill|files`: persistent sandboxes on a running server
 * (`airlock serve`), through the SDK. The server is `--url` or `--socket`, else `$AIRLOCK_URL`,
 * else `$AIRLOCK_SOCKET`, else /run/airlock/api.sock when present, else http://127.0.0.1:8002;
 * `--key` / `$AIRLOCK_KEY` signs every request (server-connection.ts). Exit codes: `exec` passes
 * the command's own through; 2 for usage errors; 1 when the server refused (the message names its
 * error code and, for a 401, how to authenticate) or can't be reached; 3 when policy sent the
 * request to an approver (the approval id, digest, expiry and how to approve are printed; repeat
 * with `--approval ID`, or give `--wait` to wait and repeat automatically). Text the
 * CLI formats (tables, ids, messages) has its control characters escaped unless `--raw`; a
 * command's own output (`exec`, `files get`) is passed through as bytes, like ssh and docker exec.
 * The implementations (sandbox-actions.ts) load only when a subcommand runs.
 */
import type { Command } from 'commander';
import type { CommonOptions } from './sandbox-actions.ts';
import type { RawCreateOptions, RawExecOptions } from './sandbox-options.ts';
import { KEY_HELP, SOCKET_HELP, URL_HELP } from './server-flags.ts';
import { APPROVAL_HELP, WAIT_HELP, type ApprovalFlags } from './approval-flags.ts';

const collect = (value: string, previous: string[]) => [...previous, value];
const RAW_HELP = 'print sandbox-chosen text as is, control characters included (default: escaped, e.g. \\x1b)';

const actions = () => import('./sandbox-actions.ts');

/** Registers `sandbox` and its subcommands on the program. */
export function registerSandbox(program: Command): void {
  const sandbox = program.command('sandbox').description('Persistent sandboxes on a running airlock server (airlock serve).');

  sandbox
    .command('create')
    .description('start a sandbox and print its id')
    .option('--url <url>', URL_HELP)
    .option('--socket <path>', SOCKET_HELP)
    .option('--key <file>', KEY_HELP)
    .option('--runtime <name>', 'isolation runtime: namespace or gvisor (default namespace)')
    .option('--image <name>', "root filesystem image (default: the server's default image)")
    .option('--memory <mb>', 'memory limit in MiB')
    .option('--cpu <cores>', 'CPU limit in cores')
    .option('--pids <n>', 'maximum number of processes')
    .option('--scratch <mb>', 'size of the writable /tmp in MiB')
    .option('--timeout <s>', 'default wall-clock limit of each exec, seconds')
    .option('--ttl <s>', 'lifetime in seconds, a hard deadline: the sandbox ends when it passes, busy or not')
    .option('--idle-timeout <s>', 'end the sandbox after this many seconds without an exec or file operation')
    .option('--metadata <KEY=VALUE>', 'label returned with the sandbox (repeatable)', collect, [])
    .option('--env <KEY=VALUE>', 'environment variable of every exec (repeatable)', collect, [])
    .option('--secret <name>', 'give the sandbox this secret as the file /run/secrets/NAME (repeatable; never an environment variable)', collect, [])
    .option('--mount <HOST:SANDBOX[:ro|rw]>', 'grant a host path, read-only unless rw (repeatable; a relative HOST is from the current directory)', collect, [])
    .option('--network <mode>', 'network policy: none (default), restricted (egress proxy + allowlist) or full (NAT, no private ranges)')
    .option('--allow <HOST[:PORT]>', 'allowlist entry for --network restricted: host, *.domain or IP, port 80/443 unless given (repeatable)', collect, [])
    .option('--service <name>', 'internal service the sandbox may call through the proxy (repeatable)', collect, [])
    .option('--json', 'print the sandbox as JSON instead of its id', false)
    .option('--approval <id>', APPROVAL_HELP)
    .option('--wait', WAIT_HELP, false)
    .action(async (raw: RawCreateOptions & ApprovalFlags) => {
      process.exitCode = await (await actions()).createAction(raw);
    });

  sandbox
    .command('exec')
    .description("run a command in a sandbox; output streams live and the exit code is the command's")
    .argument('<id>', 'sandbox id')
    .argument('[command...]', 'command and arguments (after --)')
    .option('--url <url>', URL_HELP)
    .option('--socket <path>', SOCKET_HELP)
    .option('--key <file>', KEY_HELP)
    .option('--timeout <s>', "wall-clock limit of this command, seconds (default: the sandbox's)")
    .option('--env <KEY=VALUE>', 'environment variable (repeatable)', collect, [])
    .option('--cwd <dir>', 'absolute working directory inside the sandbox')
    .option('--no-stdin', 'do not forward piped stdin to the command')
    .option('--approval <id>', APPROVAL_HELP)
    .option('--wait', WAIT_HELP, false)
    .action(async (id: string, command: string[], raw: RawExecOptions & ApprovalFlags) => {
      process.exitCode = await (await actions()).execAction(id, command, raw);
    });

  sandbox
    .command('ls')
    .description('list sandboxes')
    .option('--url <url>', URL_HELP)
    .option('--socket <path>', SOCKET_HELP)
    .option('--key <file>', KEY_HELP)
    .option('--json', 'print JSON instead of a table', false)
    .option('--raw', RAW_HELP, false)
    .action(async (opts: CommonOptions) => {
      process.exitCode = await (await actions()).listAction(opts);
    });

  sandbox
    .command('kill')
    .description('end a sandbox: every process killed, everything released')
    .argument('<id>', 'sandbox id')
    .option('--url <url>', URL_HELP)
    .option('--socket <path>', SOCKET_HELP)
    .option('--key <file>', KEY_HELP)
    .option('--json', 'print the ended sandbox as JSON', false)
    .option('--raw', RAW_HELP, false)
    .option('--approval <id>', APPROVAL_HELP)
    .option('--wait', WAIT_HELP, false)
    .action(async (id: string, opts: CommonOptions & ApprovalFlags) => {
      process.exitCode = await (await actions()).killAction(id, opts);
    });

  const files = sandbox.command('files').description('list, read and write files inside a sandbox');

  files
    .command('ls')
    .description('list a directory')
    .argument('<id>', 'sandbox id')
    .argument('<path>', 'absolute directory path inside the sandbox')
    .option('--url <url>', URL_HELP)
    .option('--socket <path>', SOCKET_HELP)
    .option('--key <file>', KEY_HELP)
    .option('--json', 'print JSON instead of a table', false)
    .option('--raw', RAW_HELP, false)
    .option('--approval <id>', APPROVAL_HELP)
    .option('--wait', WAIT_HELP, false)
    .action(async (id: string, path: string, opts: CommonOptions & ApprovalFlags) => {
      process.exitCode = await (await actions()).filesListAction(id, path, opts);
    });

  files
    .command('get')
    .description('copy a file out of the sandbox (to stdout when LOCAL is absent or -)')
    .argument('<id>', 'sandbox id')
    .argument('<path>', 'absolute file path inside the sandbox')
    .argument('[local]', 'local file to write')
    .option('--url <url>', URL_HELP)
    .option('--socket <path>', SOCKET_HELP)
    .option('--key <file>', KEY_HELP)
    .option('--approval <id>', APPROVAL_HELP)
    .option('--wait', WAIT_HELP, false)
    .action(async (id: string, path: string, local: string | undefined, opts: CommonOptions & ApprovalFlags) => {
      process.exitCode = await (await actions()).filesGetAction(id, path, local, opts);
    });

  files
    .command('put')
    .description('copy a local file into the sandbox, in the order of cp (LOCAL - reads stdin)')
    .argument('<id>', 'sandbox id')
    .argument('<local>', 'local file to read, or - for stdin')
    .argument('[path]', 'absolute file path inside the sandbox')
    .option('--url <url>', URL_HELP)
    .option('--socket <path>', SOCKET_HELP)
    .option('--key <file>', KEY_HELP)
    .option('--mode <octal>', 'permission bits, e.g. 0644')
    .option('--json', 'print the result as JSON', false)
    .option('--raw', RAW_HELP, false)
    .option('--approval <id>', APPROVAL_HELP)
    .option('--wait', WAIT_HELP, false)
    .action(async (id: string, local: string, path: string | undefined, opts: CommonOptions & ApprovalFlags & { mode?: string }) => {
      process.exitCode = await (await actions()).filesPutAction(id, local, path, opts);
    });
}
