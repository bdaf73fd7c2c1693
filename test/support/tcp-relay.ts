import {
  connect as tcpConnect,
  createServer,
  type AddressInfo,
  type Server,
  type Socket,
} from 'node:net';

/**
 * A TCP relay on a free loopback port that forwards each connection to a target port, as a load
 * balancer in front of gateway instances would: a client given the relay's one URL reaches
 * whichever instance the test points it at. Bytes are passed as they are (the WebSocket
 * handshake and frames included); when either side closes, so does the other.
 */
export class TcpRelay {
  private target: number | undefined;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  /** Starts relaying to `target`; without one, connections are refused until {@link retarget}. */
  static async start(target?: number): Promise<TcpRelay> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const relay = new TcpRelay(server, (server.address() as AddressInfo).port);
    relay.target = target;
    server.on('connection', (socket) => relay.relay(socket));
    return relay;
  }

  /** `ws://127.0.0.1:<port>/` */
  get url(): string {
    return `ws://127.0.0.1:${this.port}/`;
  }

  /**
   * Where new connections go from now on; `undefined` closes them as soon as they come (no
   * instance behind the balancer). Open connections stay where they are.
   */
  retarget(target: number | undefined): void {
    this.target = target;
  }

  /** Destroys every open connection, both sides, without a close frame: a network cut. */
  cut(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  /** Cuts every connection and stops listening. */
  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private relay(client: Socket): void {
    const target = this.target;
    if (target === undefined) {
      client.destroy();
      return;
    }
    const upstream = tcpConnect(target, '127.0.0.1');
    const pair = [client, upstream];
    const end = () => {
      for (const socket of pair) {
        socket.destroy();
        this.sockets.delete(socket);
      }
    };
    for (const socket of pair) {
      this.sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('error', end);
      socket.on('close', end);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
