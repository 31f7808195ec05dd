// Lint rules, type-aware. Each project-specific rule names the class of bug it keeps out.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Module-level mutable state: state belongs to an instance the caller owns (tests run many). */
const moduleLevelLet = {
  selector: 'Program > VariableDeclaration[kind="let"], Program > ExportNamedDeclaration > VariableDeclaration[kind="let"]',
  message: 'No module-level mutable state: keep it in an instance.',
};

/**
 * A timer raced against an event stays armed after the event wins and holds the process until it
 * fires: a test file stayed alive 8 minutes after its last test. Pass `{ ref: false }` or a signal.
 */
const armedRaceTimer = {
  selector: "CallExpression[callee.object.name='Promise'][callee.property.name='race'] CallExpression[callee.name='sleep'][arguments.length<3]",
  message: 'A sleep raced against an event holds the process once the event won: pass { ref: false } (or an abort signal).',
};

/** A shell re-parses its command line: sandbox-chosen text must never reach one. */
const noShell = {
  name: 'node:child_process',
  importNames: ['exec', 'execSync'],
  message: 'Use spawn/execFile with an argument vector, never a shell.',
};

/**
 * Granted host paths are opened one component at a time without following links (T24): a
 * realpath() there follows a link a sandbox planted earlier.
 */
const noRealpath = [
  { name: 'node:fs', importNames: ['realpathSync', 'realpath'], message: 'Grants never follow links: walk components with O_NOFOLLOW.' },
  { name: 'node:fs/promises', importNames: ['realpath'], message: 'Grants never follow links: walk components with O_NOFOLLOW.' },
];

/**
 * Layering, lowest first: src/host; src/isolation and src/network; src/secrets; src/sandbox and src/forensics; src/admission and src/approvals; src/api and src/cli.
 * A module imports only from its own layer or below, so a lower layer can be reasoned about (and
 * reused) without the ones built on it. Each folder names the folders above it and why. (Static
 * imports and re-exports only: a dynamic import() is not checked.)
 */
const layers = [
  { folder: 'host', above: ['isolation', 'network', 'sandbox', 'forensics', 'admission', 'approvals', 'mcp', 'api', 'cli'], why: 'Host helpers are the bottom layer: they know no driver, network, runner or front end.' },
  { folder: 'isolation', above: ['sandbox', 'forensics', 'admission', 'approvals', 'mcp', 'api', 'cli'], why: 'Drivers allocate, run and release: they know nothing of the runner, HTTP or the CLI.' },
  { folder: 'network', above: ['sandbox', 'forensics', 'admission', 'approvals', 'mcp', 'api', 'cli'], why: 'Networks are attached by the runner: they know nothing of the runner, HTTP or the CLI.' },
  { folder: 'sandbox', above: ['admission', 'approvals', 'mcp', 'api', 'cli'], why: 'The runner serves every front end: it knows nothing of admission, HTTP or the CLI.' },
  { folder: 'forensics', above: ['admission', 'approvals', 'mcp', 'api', 'cli'], why: 'Forensic capture sits beside the runner: it knows nothing of admission, HTTP or the CLI.' },
  { folder: 'admission', above: ['mcp', 'api', 'cli'], why: 'Admission decides for every front end: it knows nothing of HTTP or the CLI.' },
  { folder: 'approvals', above: ['mcp', 'api', 'cli'], why: 'The approval gate serves admission and every front end: it knows nothing of HTTP or the CLI.' },
  { folder: 'mcp', above: ['api', 'cli'], why: 'The MCP proxy is a front end of its own: it knows nothing of the HTTP API or the CLI.' },
  { folder: 'secrets', above: ['sandbox', 'forensics', 'admission', 'approvals', 'mcp', 'api', 'cli'], why: 'Secrets are resolved and redacted for the runner and every front end: they know nothing of them.' },
];

const isolationLayer = layers.find((layer) => layer.folder === 'isolation');

/** The no-restricted-imports options for `layer`: the shared `paths` plus the folders above it. */
function layerImports(layer, paths) {
  // Relative specifiers only (the project has no path aliases): `../sandbox/x.ts`, `../../api/x.ts`.
  const regex = `^(\\.\\./)+(${layer.above.join('|')})(/|$)`;
  return ['error', { paths, patterns: [{ regex, message: `src/${layer.folder} imports nothing from src/{${layer.above.join(',')}}. ${layer.why}` }] }];
}

export default tseslint.config(
  // sdk/dist: the SDK package's build output (npm pack), generated from sdk/*.ts.
  { ignores: ['node_modules/**', 'bench/results/**', '.airlock/**', 'docs/**', 'sdk/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A promise nobody awaits outlives its caller: a stats() query left a runsc child behind after
      // teardown, and an unawaited close let the next test see a half-torn-down sandbox.
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's test()/describe() promises are awaited by the runner itself.
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] }] },
      ],
      // An async listener on an EventEmitter turns a rejection into an unhandled one: the server dies.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
      '@typescript-eslint/await-thenable': 'error',
      // Every refusal must name its control: only Error objects carry a code and a stack.
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/prefer-promise-reject-errors': 'error',
      // A termination reason or network mode added without a case was reported as the wrong one.
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/consistent-type-imports': 'error',
      // A callback declared before the value it reads is set (proxy decisions before the attachment).
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-restricted-properties': [
        'error',
        // A process-wide uid change also changes the uid of threadpool I/O already in flight.
        { object: 'process', property: 'setuid', message: 'Run the work in a child with the uid option.' },
        { object: 'process', property: 'seteuid', message: 'Run the work in a child with the uid option.' },
        { object: 'process', property: 'setgid', message: 'Run the work in a child with the gid option.' },
        { object: 'process', property: 'setegid', message: 'Run the work in a child with the gid option.' },
      ],
      'no-restricted-imports': ['error', { paths: [noShell] }],
      'no-restricted-syntax': ['error', armedRaceTimer],
    },
  },
  {
    files: ['src/**/*.ts', 'sdk/**/*.ts'],
    ignores: ['**/*.test.ts', '**/testing/**', '**/test-*.ts'],
    rules: { 'no-restricted-syntax': ['error', moduleLevelLet, armedRaceTimer] },
  },
  // One rule object per folder: a later no-restricted-imports replaces an earlier one, so each
  // repeats the shared paths. Tests are held to the layering too.
  ...layers.map((layer) => ({
    files: [`src/${layer.folder}/**/*.ts`],
    // request-rules.test.ts checks that the API, the CLI and the runner apply the same rules: it
    // imports all three on purpose, until one admission step makes that check unnecessary.
    ignores: layer.folder === 'sandbox' ? ['src/sandbox/request-rules.test.ts'] : [],
    rules: { 'no-restricted-imports': layerImports(layer, [noShell]) },
  })),
  {
    files: ['src/isolation/**/*.ts'],
    ignores: ['src/isolation/**/*.test.ts'],
    rules: { 'no-restricted-imports': layerImports(isolationLayer, [...noRealpath, noShell]) },
  },
  {
    files: ['**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
