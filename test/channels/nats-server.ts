/**
 * Real nats-server processes for tests and benchmarks: each on ports the server picks itself (read back
 * from its ports file), with its own JetStream store in a temporary directory, stopped (SIGKILL if it
 * will not stop) and removed by `stop()`. Clusters of three on loopback, with routes between them.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const INSTALL = 'apt-get update && apt-get install -y nats-server';

/** A loopback port that was free a moment ago (bound to port 0 by the kernel, then released). */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Throws, naming the install command, when nats-server is not installed (tests must fail, never skip). */
export function requireNatsServer(): string {
  try {
    return execFileSync('nats-server', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(`nats-server is not installed; install it with: ${INSTALL}`);
  }
}

/** The URLs of a server's ports file, or undefined while it is not whole yet. */
function parsePorts(text: string): { nats?: string[]; cluster?: string[] } | undefined {
  try {
    return JSON.parse(text) as { nats?: string[]; cluster?: string[] };
  } catch {
    return undefined;
  }
}

/** Settings written into a server's configuration file. */
export interface NatsServerConfig {
  readonly jetstream?: boolean;
  /** Extra configuration text (authorization blocks, max_payload, …). */
  readonly extra?: string;
  /** Cluster: name, this server's name, and the route URLs of the others. */
  readonly cluster?: { readonly name: string; readonly routes: readonly string[]; readonly routePort?: number };
  readonly serverName?: string;
  /** A fixed client port (for restarts in place); default: the server picks one. */
  readonly port?: number;
}

/** One running nats-server. */
export class NatsServer {
  readonly dir: string;
  readonly config: NatsServerConfig;
  #child: ChildProcess | undefined;
  #log = '';
  port = 0;
  routePort = 0;

  private constructor(dir: string, config: NatsServerConfig) {
    this.dir = dir;
    this.config = config;
  }

  /** Starts a server in a fresh temporary directory; resolves once it accepts clients. */
  static async start(config: NatsServerConfig = {}): Promise<NatsServer> {
    requireNatsServer();
    const server = new NatsServer(mkdtempSync(join(tmpdir(), 'tipc-nats-')), config);
    try {
      await server.#spawn();
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  /** `host:port` of the client listener. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** `nats://127.0.0.1:port/subject`. */
  url(subject: string, query = ''): `nats://${string}` {
    return `nats://${this.address}/${subject}${query}`;
  }

  get log(): string {
    return this.#log;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  async #spawn(): Promise<void> {
    const { jetstream = true, cluster, serverName, extra = '' } = this.config;
    const portsDir = join(this.dir, 'ports');
    rmSync(portsDir, { recursive: true, force: true });
    mkdirSync(portsDir, { recursive: true });
    const lines = [
      `listen: "127.0.0.1:${this.config.port ?? (this.port || -1)}"`,
      `ports_file_dir: "${portsDir}"`,
      serverName === undefined ? '' : `server_name: "${serverName}"`,
      jetstream ? `jetstream { store_dir: "${join(this.dir, 'js')}" }` : '',
      cluster === undefined
        ? ''
        : `cluster { name: "${cluster.name}", listen: "127.0.0.1:${this.routePort || cluster.routePort || -1}", routes: [${cluster.routes.map((r) => `"${r}"`).join(', ')}] }`,
      extra,
    ];
    const file = join(this.dir, 'server.conf');
    writeFileSync(file, `${lines.filter((l) => l !== '').join('\n')}\n`);
    this.#log = '';
    const child = spawn('nats-server', ['-c', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#child = child;
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.#log = (this.#log + chunk).slice(-20_000);
    });
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (!this.running) throw new Error(`nats-server exited at start:\n${this.#log}`);
      const ports = readdirSync(portsDir).filter((f) => f.endsWith('.ports'));
      // The ports file may be caught half-written: read it again on the next round until it parses.
      const info =
        ports.length > 0 && /Server is ready/.test(this.#log)
          ? parsePorts(readFileSync(join(portsDir, ports[0] as string), 'utf8'))
          : undefined;
      if (info !== undefined) {
        this.port = Number(new URL(info.nats?.[0] ?? '').port);
        if (info.cluster?.[0] !== undefined) this.routePort = Number(new URL(info.cluster[0]).port);
        return;
      }
      if (Date.now() > deadline) throw new Error(`nats-server did not become ready in 15 s:\n${this.#log}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /**
   * The server process (and the pipe of its log) no longer keep this process alive: for a child that
   * checks that its unref'd channels let it exit. `stop()` still stops it, while something else holds the loop.
   */
  unref(): this {
    this.#child?.unref();
    (this.#child?.stderr as { unref?: () => void } | null | undefined)?.unref?.();
    return this;
  }

  /** SIGKILLs the server (a crash: nothing flushed, no goodbye to clients). */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === undefined || !this.running) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** Starts it again on the same client and route ports with the same store (after `kill`). */
  async restart(): Promise<void> {
    await this.kill();
    await this.#spawn();
  }

  /** Stops the server and removes its directory; safe to call twice. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child !== undefined && this.running) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Three JetStream servers in one cluster on loopback; `stop()` stops them all. */
export class NatsCluster {
  readonly servers: readonly NatsServer[];

  private constructor(servers: readonly NatsServer[]) {
    this.servers = servers;
  }

  static async start(name = `c${process.pid}`): Promise<NatsCluster> {
    // JetStream clustering needs every route configured up front, so route ports are taken from the
    // kernel (bound to port 0, then released); a start that loses one of them to another process is retried.
    for (let attempt = 1; ; attempt++) {
      const routePorts = await Promise.all([0, 1, 2].map(() => freePort()));
      const routes = routePorts.map((port) => `nats-route://127.0.0.1:${port}`);
      const servers: NatsServer[] = [];
      try {
        for (const [i, routePort] of routePorts.entries()) {
          const others = routes.filter((_, j) => j !== i);
          servers.push(
            await NatsServer.start({ serverName: `${name}-${i}`, cluster: { name, routes: others, routePort } }),
          );
        }
        return new NatsCluster(servers);
      } catch (error) {
        await Promise.all(servers.map((s) => s.stop()));
        if (attempt === 3) throw error;
      }
    }
  }

  /** Every server's `host:port`, joined by commas (for a nats:// URL). */
  get seeds(): string {
    return this.servers.map((s) => s.address).join(',');
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.stop()));
  }
}
