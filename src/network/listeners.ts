/**
 * Every TCP listener of the controller process, which no sandbox may reach through its egress
 * proxy (see proxy/controller-listeners.ts): the egress proxies on every slot gateway, the Node
 * inspector when it is open, and what the front end adds once it listens (the API, which also
 * serves /metrics and /health). One per controller, handed to the network manager and to the server.
 *
 * An internal service whose URL is one of these listeners is a configuration error: refused when
 * the registry is built and when a listener is added, naming the service and the listener. A
 * service given by a name that resolves there is refused per request, after the lookup.
 */
import { DEFAULT_API_PORT, type NetworkConfig, type ServiceRoute } from '../config/config.ts';
import { ControlError } from '../host/control-error.ts';
import { createLocalAddressCheck, interfaceAddresses } from './proxy/addresses.ts';
import { findControllerListener, type ListenerEndpoint } from './proxy/controller-listeners.ts';
import { formatHostPort, isIpHost } from './proxy/host-name.ts';
import { serviceAddress } from './proxy/services.ts';

export type { ListenerEndpoint } from './proxy/controller-listeners.ts';

/** The listeners of one controller process. */
export class ControllerListeners {
  readonly #network: Pick<NetworkConfig, 'subnet' | 'proxyPort' | 'services'>;
  readonly #added: ListenerEndpoint[] = [];
  readonly #isLocal: (address: string) => boolean;

  /** Throws ControlError (`network.services`) when a configured service is one of the fixed listeners. */
  constructor(network: Pick<NetworkConfig, 'subnet' | 'proxyPort' | 'services'>, hostAddresses: () => string[] = interfaceAddresses) {
    this.#network = network;
    this.#isLocal = createLocalAddressCheck(hostAddresses);
    // Without services there is nothing to compare (and the inspector need not be asked).
    if (Object.keys(network.services).length > 0) this.#checkServices(this.list());
  }

  /**
   * Registers a listener the controller opened (the API on each address it bound). Throws
   * ControlError (`network.services`) when a configured internal service points at it.
   */
  add(endpoint: ListenerEndpoint): void {
    this.#checkServices([endpoint]);
    this.#added.push({ ...endpoint });
  }

  /** Every listener now: the proxies' subnet, the inspector when open, and what was added. */
  list(): ListenerEndpoint[] {
    const [network = '', prefix = '32'] = this.#network.subnet.split('/');
    return [
      // Why: every slot gateway carries an egress proxy on this port, including slots built after a decision.
      { address: network, prefix: Number(prefix), port: this.#network.proxyPort, what: 'egress proxy' },
      // Why: any airlock controller on this host (this one's own `serve` included, whatever runs the
      // sandbox) listens there by default, on loopback or on every address, and must stay unreachable.
      { address: '0.0.0.0', port: DEFAULT_API_PORT, what: 'API (default port, any airlock controller on this host)' },
      { address: '::', port: DEFAULT_API_PORT, what: 'API (default port, any airlock controller on this host)' },
      ...inspectorListener(),
      ...this.#added,
    ];
  }

  #checkServices(listeners: readonly ListenerEndpoint[]): void {
    for (const [name, route] of Object.entries(this.#network.services)) {
      for (const address of literalAddresses(route)) {
        const listener = findControllerListener(listeners, address.host, address.port, this.#isLocal);
        if (listener === undefined) continue;
        const where = listener.prefix === undefined ? formatHostPort(listener.address, listener.port) : `${listener.address}/${listener.prefix} port ${listener.port}`;
        throw new ControlError('network.services', `internal service "${name}" (${route.url}) is the controller's own ${listener.what} listener on ${where}; sandboxes must never reach it`);
      }
    }
  }
}

/** The IP addresses a service URL names without a lookup (`localhost` is both loopbacks); none for other names. */
function literalAddresses(route: ServiceRoute): { host: string; port: number }[] {
  let url: URL;
  try {
    url = new URL(route.url);
  } catch {
    return []; // The configuration schema already refuses it; nothing here to compare.
  }
  const address = serviceAddress({ name: '', url, methods: [], pathPrefixes: [] });
  if (address === null) return [];
  if (address.host === 'localhost') return [{ host: '127.0.0.1', port: address.port }, { host: '::1', port: address.port }];
  return isIpHost(address.host) ? [address] : [];
}

/** The inspector's listener when `--inspect` (or inspector.open) opened one: it runs any code it is sent. */
function inspectorListener(): ListenerEndpoint[] {
  // Loaded when first asked, not at start (node:inspector is several ms of a short run's start-up).
  const url = process.getBuiltinModule('node:inspector').url();
  if (url === undefined) return [];
  const parsed = new URL(url);
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  return [{ address: host === 'localhost' ? '127.0.0.1' : host, port: Number(parsed.port), what: 'inspector' }];
}
