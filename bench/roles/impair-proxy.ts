/**
 * Role `impair-proxy`: a user-space UDP impairment proxy (the kernel here has no netem). Clients
 * send to its front port; each client address gets its own upstream socket to the target port, so
 * the target sees one address per client, as through a NAT. Every datagram, each way, is lost with
 * probability `lossRate` or delayed `delayMs` ± `jitterMs` (uniform), from seeded generators, so a
 * run repeats. Queues and client tables are bounded.
 */
import type * as dgram from 'dgram';
import { mulberry32 } from '../../plugin/net/transport/prng';
import type { RoleFactory } from '../lib/role-protocol';
import { bindLoopbackUdp, closeUdp, LOOPBACK } from './udp-util';

export interface ImpairOptions {
  targetPort: number;
  lossRate: number;
  /** One-way delay added in each direction, ms. */
  delayMs: number;
  /** Uniform ± around delayMs, ms. */
  jitterMs: number;
  seed: number;
  maxClients?: number;
  maxQueued?: number;
}

interface Pending {
  due: number;
  datagram: Buffer;
  socket: dgram.Socket;
  port: number;
}

/** A binary min-heap on `due`. */
class DueQueue {
  private readonly items: Pending[] = [];
  get size(): number {
    return this.items.length;
  }
  peek(): Pending | undefined {
    return this.items[0];
  }
  push(item: Pending): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p].due <= a[i].due) break;
      [a[p], a[i]] = [a[i], a[p]];
      i = p;
    }
  }
  pop(): Pending | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l].due < a[m].due) m = l;
        if (r < a.length && a[r].due < a[m].due) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i], a[m]];
        i = m;
      }
    }
    return top;
  }
}

export const impairProxyRole: RoleFactory = async (options: ImpairOptions) => {
  const maxClients = options.maxClients ?? 256;
  const maxQueued = options.maxQueued ?? 100_000;
  const front = await bindLoopbackUdp();
  const upstreams = new Map<string, dgram.Socket>();
  const queue = new DueQueue();
  const randomUp = mulberry32(options.seed);
  const randomDown = mulberry32(options.seed ^ 0x5bd1e995);
  const counts = { forwardedUp: 0, forwardedDown: 0, lostUp: 0, lostDown: 0, overflow: 0, refusedClients: 0 };
  let timer: ReturnType<typeof setTimeout> | null = null;
  let timerDue = Infinity;
  let stopped = false;

  const drain = (): void => {
    timer = null;
    timerDue = Infinity;
    const now = performance.now();
    for (let item = queue.peek(); item !== undefined && item.due <= now + 0.25; item = queue.peek()) {
      queue.pop();
      item.socket.send(item.datagram, item.port, LOOPBACK);
    }
    arm();
  };
  const arm = (): void => {
    if (stopped) return;
    const next = queue.peek();
    if (next === undefined || next.due >= timerDue) return;
    if (timer !== null) clearTimeout(timer);
    timerDue = next.due;
    timer = setTimeout(drain, Math.max(0, next.due - performance.now()));
  };
  const impair = (random: () => number, datagram: Buffer, socket: dgram.Socket, port: number, up: boolean): void => {
    if (random() < options.lossRate) {
      if (up) counts.lostUp++;
      else counts.lostDown++;
      return;
    }
    const delay = Math.max(0, options.delayMs + (random() * 2 - 1) * options.jitterMs);
    if (queue.size >= maxQueued) {
      counts.overflow++;
      return;
    }
    if (up) counts.forwardedUp++;
    else counts.forwardedDown++;
    queue.push({ due: performance.now() + delay, datagram, socket, port });
    arm();
  };

  const upstreamFor = async (port: number): Promise<dgram.Socket | null> => {
    const key = String(port);
    const existing = upstreams.get(key);
    if (existing) return existing;
    if (upstreams.size >= maxClients) {
      counts.refusedClients++;
      return null;
    }
    const upstream = await bindLoopbackUdp(0, 1 << 20);
    upstreams.set(key, upstream);
    upstream.on('message', (datagram) => impair(randomDown, datagram, front, port, false));
    return upstream;
  };
  const pendingClients = new Map<number, Promise<dgram.Socket | null>>();
  front.on('message', (datagram, remote) => {
    if (remote.address !== LOOPBACK) return;
    const ready = upstreams.get(String(remote.port));
    if (ready) {
      impair(randomUp, datagram, ready, options.targetPort, true);
      return;
    }
    let pending = pendingClients.get(remote.port);
    if (!pending) {
      pending = upstreamFor(remote.port);
      pendingClients.set(remote.port, pending);
    }
    void pending.then((upstream) => {
      pendingClients.delete(remote.port);
      if (upstream) impair(randomUp, datagram, upstream, options.targetPort, true);
    });
  });

  return {
    info: { port: front.address().port },
    counters: () => ({ ...counts, queued: queue.size }),
    stop: async () => {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      await Promise.all([closeUdp(front), ...[...upstreams.values()].map(closeUdp)]);
    },
  };
};
