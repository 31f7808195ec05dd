/**
 * Host configuration: where state lives, the default image, and the limit defaults and maxima.
 * Loaded from the JSON file named by `--config`, `$AIRLOCK_CONFIG`, or `/etc/airlock/config.json`
 * when present; every field has a safe default, and unknown fields are an error (typos fail loudly).
 *
 * The zod schema is loaded only when there is a file to validate: a plain `airlock run` on a host
 * with no configuration file must not pay zod's start-up cost.
 */
import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { z as Zod } from 'zod';

import type { Limits } from '../isolation/driver.ts';
import { DEFAULT_ALLOWED_HOSTS, parseHost } from './allowed-hosts.ts';
import { hostSandboxCapacity } from './capacity.ts';
import { authSchema, DEFAULT_AUTH_CONFIG, DEFAULT_STORE_CONFIG, storeSchema, type AuthConfig, type StoreConfig } from './auth-config.ts';
import { approvalsSchema, DEFAULT_APPROVALS_CONFIG, type ApprovalsConfig } from './approvals-config.ts';
import { DEFAULT_REVOCATION_CONFIG, revocationSchema, type RevocationConfig } from './revocation-config.ts';
import { DEFAULT_MICROVM_CONFIG, microvmSchema, type MicrovmConfig } from './microvm-config.ts';
import { auditSchema, DEFAULT_AUDIT_CONFIG, type AuditConfig } from './audit-config.ts';
import { DEFAULT_SECRETS_CONFIG, secretsSchema, type SecretsConfig } from './secrets-config.ts';
import { DEFAULT_FORENSICS_CONFIG, forensicsSchema, type ForensicsConfig } from './forensics-config.ts';
import { DEFAULT_IMAGE_POLICY_CONFIG, imagePolicySchema, type ImagePolicyConfig } from './image-policy-config.ts';
import { DEFAULT_IMAGE_IMPORT_CONFIG, imageImportSchema, type ImageImportConfig } from './image-import-config.ts';
import { DEFAULT_VIOLATIONS_CONFIG, violationsSchema, type ViolationsConfig } from './violations-config.ts';
import { DEFAULT_MCP_CONFIG, mcpSchema, type McpConfig } from './mcp-config.ts';

/** Limits as the configuration states them (defaults, maxima): the same fields a sandbox gets. */
export type LimitBounds = Limits;

/** A warm pool: `size` ready sandboxes of a runtime, image and limits class. */
export interface PoolConfig {
  runtime: 'namespace' | 'gvisor' | 'microvm';
  image: string;
  size: number;
  /** Limits of the class (defaults fill the rest); a create request with exactly these gets a pooled sandbox. */
  limits: { [K in keyof LimitBounds]?: LimitBounds[K] | undefined };
}

/** The long-running service (`airlock serve`). */
export interface ServiceConfig {
  /**
   * Cap on concurrent sandboxes (one-shot and persistent); past it, requests get 429. Default:
   * derived from the host's memory and cores (capacity.ts).
   */
  maxSandboxes: number;
  defaultTtlSeconds: number;
  maxTtlSeconds: number;
  /** Largest file moved in one files API call. */
  fileMaxBytes: number;
  /** Default per-exec timeout. */
  execTimeoutSeconds: number;
  pools: PoolConfig[];
  /** Exact browser origins allowed to call the API cross-origin (default none). */
  corsOrigins: string[];
  /**
   * `Host` names the API answers to over TCP (DNS-rebinding guard): `NAME` (any port) or
   * `NAME:PORT`, IPv6 in brackets. Default the loopback names; any other Host gets 421.
   */
  allowedHosts: string[];
  /** The unix-socket listener for local callers (identified by their uid); `path` null: none. */
  socket: ServiceSocketConfig;
  /**
   * Serve /metrics without authentication (scrapers that can't sign). Default false: its egress
   * series name hosts tenants' sandboxes contacted, so operators read it (the `admin` action).
   */
  publicMetrics: boolean;
  /**
   * Seconds between full re-verifications of every image in use (re-walk and re-hash against its
   * manifest); a mismatch takes the image out of service. 0 turns the schedule off. Default 3600.
   */
  imageReverifySeconds: number;
  /** Certificate and key of the TCP listener; null: plain HTTP, which only a loopback address may serve. */
  tls: ServiceTlsConfig | null;
}

/** The unix socket `airlock serve` listens on as well as TCP; callers are identified by SO_PEERCRED. */
export interface ServiceSocketConfig {
  /** Absolute path of the socket; null: no unix-socket listener. */
  path: string | null;
  /** Group given access (with `mode`); when it does not exist, the socket stays root-only (0600). */
  group: string;
  /** Permission bits of the socket (owner and group only). */
  mode: number;
}

/** PEM files of the TCP listener's TLS certificate (chain) and private key. */
export interface ServiceTlsConfig {
  certFile: string;
  keyFile: string;
}

/** An internal service (e.g. an inference endpoint) that sandboxes reach only through the egress proxy. */
export interface ServiceRoute {
  /** Base URL (http or https) of the service. */
  url: string;
  /** HTTP methods allowed (upper case). */
  methods: string[];
  /** Path prefixes allowed below the base URL's path. */
  pathPrefixes: string[];
}

/** Sandbox networking: addresses of the per-sandbox links, the egress proxy, internal services. */
export interface NetworkConfig {
  /** IPv4 range (a /16 .. /24) carved into one /30 per attached sandbox. Must not be used elsewhere. */
  subnet: string;
  /**
   * Keeps this controller's host network objects (namespaces, links, nft tables, slot leases) apart
   * from another controller's on the same host. Empty (the default) for the host's own deployment.
   */
  instance: string;
  /** TCP port the egress proxy listens on, on each sandbox's host-side address. */
  proxyPort: number;
  /** Network namespaces kept ready for `restricted` sandboxes by the server (0 = create per request). */
  poolSize: number;
  /** Most allowlist entries one sandbox may carry. */
  maxAllowedHosts: number;
  /**
   * Interval of the full comparison of every running sandbox's network state with its snapshot
   * (host events trigger comparisons of the sandboxes they concern in between).
   */
  driftCheckMs: number;
  /** Time limit of one host-state read of the drift watch (an `nft` listing). */
  driftReadTimeoutMs: number;
  /** Tries of a failing drift read before its sandboxes are killed as unverifiable. */
  driftReadAttempts: number;
  /**
   * How long the drift watch's monitor processes (`ip monitor`, `nft monitor`) outlive the last
   * sandbox: one-shots back to back reuse them instead of starting one for nearly every sandbox.
   */
  driftMonitorLingerMs: number;
  /** Public DNS resolvers written to /etc/resolv.conf of `full` sandboxes (the host's own are refused). */
  fullModeResolvers: string[];
  services: Record<string, ServiceRoute>;
}

/** Authorization: the Cedar policy bundle and the host paths grants may come from. */
export interface PolicyConfig {
  /** Directory of the Cedar schema and policies; null: the policies shipped in `policies/`. */
  dir: string | null;
  /** Absolute host directories below which a path may be granted to a sandbox (none: no host grants). */
  hostRoots: string[];
}

export interface AirlockConfig {
  stateDir: string;
  runDir: string;
  defaultImage: string;
  debianMirror: string;
  debianSuite: string;
  cgroupParent: string;
  hostUidBase: number;
  hostUidCount: number;
  defaults: LimitBounds;
  maxima: LimitBounds;
  service: ServiceConfig;
  network: NetworkConfig;
  policy: PolicyConfig;
  auth: AuthConfig;
  store: StoreConfig;
  approvals: ApprovalsConfig;
  secrets: SecretsConfig;
  revocation: RevocationConfig;
  /** The `microvm` runtime. */
  microvm: MicrovmConfig;
  audit: AuditConfig;
  forensics: ForensicsConfig;
  violations: ViolationsConfig;
  /** The MCP security proxy (`airlock mcp-proxy`). */
  mcp: McpConfig;
  imagePolicy: ImagePolicyConfig;
  /** Bounds on what one imported or pulled image may unpack to. */
  imageImport: ImageImportConfig;
}

/** The configuration a host without a configuration file runs with. */
/** The TCP port `airlock serve` listens on unless told otherwise. */
export const DEFAULT_API_PORT = 8002;

/** The limits a sandbox gets unless its request sets them. */
const DEFAULT_LIMITS: Readonly<LimitBounds> = Object.freeze({ memoryMb: 512, cpuCores: 0.5, pids: 256, timeoutSeconds: 300, scratchMb: 64, outputBytes: 10 * 1024 * 1024, openFiles: 1024 });

export const DEFAULT_CONFIG: Readonly<AirlockConfig> = Object.freeze({
  stateDir: '/var/lib/airlock',
  runDir: '/run/airlock',
  defaultImage: 'default',
  debianMirror: 'http://deb.debian.org/debian',
  debianSuite: 'bookworm',
  cgroupParent: 'airlock',
  hostUidBase: 1_500_000_000,
  hostUidCount: 65_536,
  defaults: DEFAULT_LIMITS,
  maxima: Object.freeze({ memoryMb: 2048, cpuCores: 2, pids: 4096, timeoutSeconds: 600, scratchMb: 1024, outputBytes: 64 * 1024 * 1024, openFiles: 65_536 }),
  service: Object.freeze({
    // Derived from this host's memory and cores (see capacity.ts); an explicit setting wins.
    maxSandboxes: hostSandboxCapacity(DEFAULT_LIMITS.memoryMb).max,
    defaultTtlSeconds: 300,
    maxTtlSeconds: 86_400,
    fileMaxBytes: 16 * 1024 * 1024,
    execTimeoutSeconds: 60,
    pools: Object.freeze([{ runtime: 'namespace', image: 'default', size: 2, limits: {} }]) as unknown as PoolConfig[],
    corsOrigins: Object.freeze([]) as unknown as string[],
    publicMetrics: false,
    imageReverifySeconds: 3600,
    allowedHosts: Object.freeze([...DEFAULT_ALLOWED_HOSTS]) as unknown as string[],
    socket: Object.freeze({ path: '/run/airlock/api.sock', group: 'airlock', mode: 0o660 }) as ServiceSocketConfig,
    tls: null,
  }),
  network: Object.freeze({
    subnet: '10.213.0.0/16',
    instance: '',
    proxyPort: 3128,
    poolSize: 4,
    maxAllowedHosts: 64,
    driftCheckMs: 5000,
    driftReadTimeoutMs: 10_000,
    driftReadAttempts: 3,
    driftMonitorLingerMs: 10_000,
    fullModeResolvers: Object.freeze(['1.1.1.1', '9.9.9.9']) as unknown as string[],
    services: Object.freeze({}) as Record<string, ServiceRoute>,
  }),
  policy: Object.freeze({ dir: null, hostRoots: Object.freeze([]) as unknown as string[] }),
  auth: DEFAULT_AUTH_CONFIG as AuthConfig,
  store: DEFAULT_STORE_CONFIG as StoreConfig,
  approvals: DEFAULT_APPROVALS_CONFIG as ApprovalsConfig,
  audit: DEFAULT_AUDIT_CONFIG as AuditConfig,
  forensics: DEFAULT_FORENSICS_CONFIG as ForensicsConfig,
  violations: DEFAULT_VIOLATIONS_CONFIG as ViolationsConfig,
  mcp: DEFAULT_MCP_CONFIG as McpConfig,
  imagePolicy: DEFAULT_IMAGE_POLICY_CONFIG as ImagePolicyConfig,
  imageImport: DEFAULT_IMAGE_IMPORT_CONFIG as ImageImportConfig,
  secrets: DEFAULT_SECRETS_CONFIG as SecretsConfig,
  revocation: DEFAULT_REVOCATION_CONFIG as RevocationConfig,
  microvm: DEFAULT_MICROVM_CONFIG as MicrovmConfig,
});

function buildSchema(z: typeof Zod) {
  const d = DEFAULT_CONFIG;
  const limitBounds = z
    .object({
      memoryMb: z.number().int().positive().describe('Memory limit in MiB.'),
      cpuCores: z.number().positive().describe('CPU quota in cores.'),
      pids: z.number().int().positive().describe('Maximum number of tasks.'),
      timeoutSeconds: z.number().positive().describe('Wall-clock limit in seconds.'),
      scratchMb: z.number().int().positive().describe('Size of the writable /tmp tmpfs in MiB.'),
      outputBytes: z.number().int().positive().describe('Cap on captured stdout+stderr bytes.'),
      openFiles: z.number().int().positive().describe('RLIMIT_NOFILE inside the sandbox.'),
    })
    .strict();
  return z
    .object({
      stateDir: z.string().default(d.stateDir).describe('Root-owned directory for images and sandbox state.'),
      runDir: z.string().default(d.runDir).describe('Volatile per-sandbox state (bundles, uid leases).'),
      defaultImage: z.string().default(d.defaultImage).describe('Image used when a request names none.'),
      debianMirror: z.string().url().default(d.debianMirror).describe('Mirror that `image build` fetches from.'),
      debianSuite: z.string().default(d.debianSuite).describe('Debian suite of built images.'),
      cgroupParent: z
        .string()
        .regex(/^[a-z0-9][a-z0-9._-]*$/)
        .default(d.cgroupParent)
        .describe('Name of the cgroup under which every sandbox cgroup is created.'),
      hostUidBase: z
        .number()
        .int()
        .min(100_000)
        .default(d.hostUidBase)
        .describe('First host uid handed to sandboxes; each live sandbox gets its own, never root.'),
      hostUidCount: z.number().int().min(16).max(1_000_000).default(d.hostUidCount).describe('Size of the sandbox uid range.'),
      defaults: limitBounds.default({ ...d.defaults }),
      maxima: limitBounds.default({ ...d.maxima }),
      service: z
        .object({
          maxSandboxes: z.number().int().positive().optional().describe('Cap on concurrent sandboxes; past it, 429. Default: derived from the host\'s memory and cores (airlock doctor shows how).'),
          defaultTtlSeconds: z.number().int().positive().default(d.service.defaultTtlSeconds).describe('TTL of a persistent sandbox unless the request sets one.'),
          maxTtlSeconds: z.number().int().positive().default(d.service.maxTtlSeconds).describe('Longest TTL a request may set.'),
          fileMaxBytes: z.number().int().positive().default(d.service.fileMaxBytes).describe('Largest file moved by one files API call.'),
          execTimeoutSeconds: z.number().positive().default(d.service.execTimeoutSeconds).describe('Default per-exec timeout.'),
          pools: z
            .array(
              z
                .object({
                  runtime: z.enum(['namespace', 'gvisor', 'microvm']),
                  image: z.string().min(1),
                  size: z.number().int().min(0).max(64),
                  limits: limitBounds.partial().default({}),
                })
                .strict(),
            )
            .default(d.service.pools.map((p) => ({ ...p, limits: { ...p.limits } })))
            .describe('Warm pools of ready sandboxes.'),
          corsOrigins: z
            .array(z.string().regex(/^https?:\/\/[^/*\s]+$/, 'an exact origin such as https://app.example.com (no wildcard, no path)'))
            .default([])
            .describe('Exact browser origins allowed to call the API cross-origin.'),
          allowedHosts: z
            .array(z.string().refine((v) => parseHost(v) !== undefined, 'NAME or NAME:PORT, IPv6 in brackets ([::1]); no scheme, path or trailing dot'))
            .default([...d.service.allowedHosts])
            .describe('Host header names the API answers to over TCP (DNS-rebinding guard); a name without a port matches any port.'),
          publicMetrics: z
            .boolean()
            .default(false)
            .describe('Serve /metrics unauthenticated (for scrapers that cannot sign). Its egress series name the hosts sandboxes contacted; off by default.'),
          imageReverifySeconds: z
            .number()
            .int()
            .min(0)
            .default(d.service.imageReverifySeconds)
            .describe('Seconds between full re-hashes of every image in use (a mismatch takes the image out of service); 0: off.'),
          socket: serviceSocketSchema(z),
          tls: z
            .object({
              certFile: z.string().regex(/^\//, 'an absolute path').describe('PEM certificate (chain) of the TCP listener.'),
              keyFile: z.string().regex(/^\//, 'an absolute path').describe('PEM private key of the TCP listener.'),
            })
            .strict()
            .nullable()
            .default(null)
            .describe('TLS of the TCP listener; required to listen on any address but loopback. null: plain HTTP.'),
        })
        .strict()
        .default({
          ...d.service,
          pools: d.service.pools.map((p) => ({ ...p, limits: { ...p.limits } })),
          corsOrigins: [],
          allowedHosts: [...d.service.allowedHosts],
          socket: { ...d.service.socket },
        }),
      network: z
        .object({
          subnet: z
            .string()
            .regex(/^(\d{1,3}\.){3}\d{1,3}\/(1[6-9]|2[0-4])$/, 'an IPv4 CIDR from /16 to /24, e.g. 10.213.0.0/16')
            .default(d.network.subnet)
            .describe('IPv4 range carved into one /30 per attached sandbox; must not be used elsewhere on the host.'),
          instance: z
            .string()
            .regex(/^[a-z0-9]{0,4}$/, 'up to 4 lowercase letters or digits (host link names are limited to 15 characters)')
            .default(d.network.instance)
            .describe('Tag that keeps this controller\'s namespaces, links, nft tables and slot leases apart from another controller\'s on the host; empty for the default deployment.'),
          proxyPort: z.number().int().min(1).max(65_535).default(d.network.proxyPort).describe('Port of the egress proxy on each sandbox link.'),
          poolSize: z.number().int().min(0).max(256).default(d.network.poolSize).describe('Network namespaces the server keeps ready.'),
          maxAllowedHosts: z.number().int().min(1).max(4096).default(d.network.maxAllowedHosts).describe('Most allowlist entries per sandbox.'),
          driftCheckMs: z
            .number()
            .int()
            .min(50)
            .max(60_000)
            .default(d.network.driftCheckMs)
            .describe('Interval of the full network drift comparison of every sandbox; host events trigger comparisons in between.'),
          driftReadTimeoutMs: z.number().int().min(100).max(120_000).default(d.network.driftReadTimeoutMs).describe('Time limit of one drift-watch read of the host state (an nft listing).'),
          driftReadAttempts: z
            .number()
            .int()
            .min(1)
            .max(10)
            .default(d.network.driftReadAttempts)
            .describe('Tries of a failing drift read (with backoff) before the sandbox is killed as unverifiable.'),
          driftMonitorLingerMs: z
            .number()
            .int()
            .min(0)
            .max(600_000)
            .default(d.network.driftMonitorLingerMs)
            .describe('How long the drift watch keeps its monitor processes after the last sandbox (0: stopped with it).'),
          fullModeResolvers: z
            .array(z.string().regex(/^(\d{1,3}\.){3}\d{1,3}$/, 'an IPv4 address'))
            .min(1)
            .max(3)
            .default([...d.network.fullModeResolvers])
            .describe('Public resolvers of full-mode sandboxes (private ones are unreachable from them by design).'),
          services: z
            .record(
              z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, 'a lowercase name such as inference'),
              z
                .object({
                  url: z.string().regex(/^https?:\/\/[^\s@]+$/, 'an http(s) URL without userinfo'),
                  methods: z.array(z.string().regex(/^[A-Z]+$/)).min(1),
                  pathPrefixes: z.array(z.string().regex(/^\//, 'a path starting with /')).min(1),
                })
                .strict(),
            )
            .default({})
            .describe('Internal services sandboxes may reach through the egress proxy, by name.'),
        })
        .strict()
        .default({ ...d.network, fullModeResolvers: [...d.network.fullModeResolvers], services: {} }),
      policy: z
        .object({
          dir: z.string().min(1).nullable().default(d.policy.dir).describe('Directory of the Cedar schema and policies; null for the shipped policies/.'),
          hostRoots: z
            .array(
              z
                .string()
                .regex(/^\/./, 'an absolute directory other than /')
                // Why: a root of / would let any host path be granted, the very thing roots exist to stop.
                .refine((v) => v.replace(/\/+$/, '') !== '', '/ would allow granting every host path'),
            )
            .default([])
            .describe('Absolute host directories below which paths may be granted to sandboxes; empty: no host grants.'),
        })
        .strict()
        .default({ dir: d.policy.dir, hostRoots: [] }),
      auth: authSchema(z),
      store: storeSchema(z),
      approvals: approvalsSchema(z),
      audit: auditSchema(z),
      forensics: forensicsSchema(z),
      violations: violationsSchema(z),
      mcp: mcpSchema(z),
      imagePolicy: imagePolicySchema(z),
      imageImport: imageImportSchema(z),
      secrets: secretsSchema(z),
      revocation: revocationSchema(z),
      microvm: microvmSchema(z),
    })
    .strict();
}

/** `service.socket`: path, group and mode of the local unix-socket listener. */
function serviceSocketSchema(z: typeof Zod) {
  const d = DEFAULT_CONFIG.service.socket;
  return z
    .object({
      path: z
        .string()
        .regex(/^\/[^\0]+$/, 'an absolute path')
        // The kernel's sun_path holds 107 bytes and a NUL.
        .refine((v) => Buffer.byteLength(v) <= 107, 'at most 107 bytes (the limit of a unix socket address)')
        .nullable()
        .default(d.path)
        .describe('Path of the unix socket local callers use (identified by their uid); null: no socket.'),
      group: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/, 'a group name')
        .default(d.group)
        .describe('Group whose members may connect; when it does not exist the socket stays root-only (0600).'),
      mode: z
        .union([z.number().int(), z.string().regex(/^0?[0-7]{3}$/, 'octal permission bits such as "0660"').transform((v) => parseInt(v, 8))])
        // Why: access is granted through the group; a socket every local user may connect to is refused.
        .refine((v) => v >= 0 && v <= 0o770 && (v & 0o007) === 0 && (v & 0o600) === 0o600, 'owner read-write, group bits only (e.g. "0660" or "0600")')
        .default(d.mode)
        .describe('Permission bits of the socket: "0660" (owner and group) or "0600" (root only); octal string or number.'),
    })
    .strict()
    .default({ ...d });
}

/** Validates a raw configuration object (defaults filled in); throws naming the first bad field. */
export function parseConfig(raw: unknown, source = '(inline)'): AirlockConfig {
  const z = (createRequire(import.meta.url)('zod') as { z: typeof Zod }).z;
  const parsed = buildSchema(z).safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`config ${source}: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
  }
  const data = parsed.data;
  const maxSandboxes = data.service.maxSandboxes ?? hostSandboxCapacity(data.defaults.memoryMb).max;
  const config: AirlockConfig = { ...data, service: { ...data.service, maxSandboxes } };
  for (const key of Object.keys(config.defaults) as (keyof LimitBounds)[]) {
    if (config.defaults[key] > config.maxima[key]) {
      throw new Error(`config ${source}: defaults.${key} (${config.defaults[key]}) exceeds maxima.${key} (${config.maxima[key]})`);
    }
  }
  return config;
}

/** Kept for callers that build configurations in code (tests, embedders). */
export const configSchema = { parse: (raw: unknown): AirlockConfig => parseConfig(raw) };

const DEFAULT_CONFIG_PATH = '/etc/airlock/config.json';

/** Reads and validates the configuration; a malformed file is an error naming the field. */
export function loadConfig(path?: string, env: NodeJS.ProcessEnv = process.env): AirlockConfig {
  const file = path ?? env['AIRLOCK_CONFIG'] ?? (existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : undefined);
  if (file === undefined) return structuredClone(DEFAULT_CONFIG) as AirlockConfig;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`config ${file}: ${(err as Error).message}`, { cause: err });
  }
  return parseConfig(raw, file);
}
