import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildProgram, COMMAND_NAMES, invokedCommand } from './main.ts';
import { runCli } from './test-cli.ts';

const argv = (...args: string[]) => ['node', 'airlock', ...args];

test('airlock --help lists every command, in order, and help for a command names it', async () => {
  const result = await runCli(['--help']);
  assert.equal(result.code, 0, result.stderr);
  const listed = result.stdout
    .slice(result.stdout.indexOf('Commands:'))
    .split('\n')
    .slice(1)
    .map((line) => /^ {2}([a-z][a-z-]*)(?=\s|$)/.exec(line)?.[1])
    .filter((name) => name !== undefined);
  assert.deepEqual(listed, [...COMMAND_NAMES, 'help']);
  const help = await runCli(['help', 'run']);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^Usage: airlock run \[options\] \[command\.\.\.\]/);
});

test('a command registered alone has the same help as with every command registered', async () => {
  const all = await buildProgram();
  assert.deepEqual(all.commands.map((c) => c.name()), COMMAND_NAMES);
  for (const name of COMMAND_NAMES) {
    const alone = await buildProgram(name);
    assert.deepEqual(alone.commands.map((c) => c.name()), [name]);
    const helpOf = (program: typeof all) => program.commands.find((c) => c.name() === name)?.helpInformation();
    assert.equal(helpOf(alone), helpOf(all), name);
  }
});

test('invokedCommand: the first word after --config, and nothing for help, options or unknown words', () => {
  assert.equal(invokedCommand(argv('run', '--', '/bin/true')), 'run');
  assert.equal(invokedCommand(argv('--config', 'x.json', 'sandbox', 'ls')), 'sandbox');
  assert.equal(invokedCommand(argv('--config=x.json', 'receipt', 'verify')), 'receipt');
  assert.equal(invokedCommand(argv('--config', 'run', 'doctor')), 'doctor');
  assert.equal(invokedCommand(argv()), undefined);
  assert.equal(invokedCommand(argv('--help')), undefined);
  assert.equal(invokedCommand(argv('-h', 'run')), undefined);
  assert.equal(invokedCommand(argv('help', 'run')), undefined);
  assert.equal(invokedCommand(argv('rnu')), undefined);
  assert.equal(invokedCommand(argv('--config')), undefined);
});

test('an unknown command is still refused with a suggestion', async () => {
  const result = await runCli(['rnu']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /unknown command 'rnu'/);
  assert.match(result.stderr, /Did you mean run\?/);
});
