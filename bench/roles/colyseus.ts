/**
 * The Colyseus baseline: role `colyseus-server` runs a minimal room that re-broadcasts every byte
 * message to the room's other clients at once (Colyseus's own room messages over WebSocket), and
 * role `colyseus-mesh` runs N colyseus.js clients sending the same frame traffic the `mesh` role
 * sends through our relay, measuring latency on receipt the same way.
 */
import { Room, Server, type Client } from '@colyseus/core';
import { WebSocketTransport } from '@colyseus/ws-transport';
import { Client as ColyseusClient, type Room as ClientRoom } from 'colyseus.js';
import type { AddressInfo } from 'net';
import { monotonicMs, type RoleFactory } from '../lib/role-protocol';
import { distribution, SampleReservoir } from '../lib/stats';
import type { ChannelResult, TrafficSpec } from './mesh';
import { LOOPBACK } from './udp-util';

export const BENCH_ROOM = 'bench';

class BenchRoom extends Room {
  override onCreate(): void {
    this.maxClients = 1024;
    this.autoDispose = false;
    this.onMessage('*', (client: Client, type: string | number, message: unknown) => {
      if (message instanceof Uint8Array) this.broadcastBytes(type, message, { except: client });
    });
  }
}

export const colyseusServerRole: RoleFactory = async () => {
  const transport = new WebSocketTransport({ maxPayload: 64 * 1024 });
  const server = new Server({ transport, greet: false, gracefullyShutdown: false, logger: { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined, trace: () => undefined } as never });
  server.define(BENCH_ROOM, BenchRoom);
  await server.listen(0, LOOPBACK);
  const httpServer = transport.server as unknown as { address(): AddressInfo; closeAllConnections(): void };
  const port = httpServer.address().port;
  return {
    info: { url: `ws://${LOOPBACK}:${port}` },
    stop: async () => {
      await server.gracefullyShutdown(false).catch(() => undefined);
      httpServer.closeAllConnections();
    },
  };
};

const HEADER_BYTES = 16;

/** N colyseus.js clients in one room; each frame every sender sends each stream's messages once (the room fans out). */
export const colyseusMeshRole: RoleFactory = async (options: { url: string; count: number; frameHz: number; firstIndex: number; maxSamples?: number }) => {
  const maxSamples = options.maxSamples ?? 200_000;
  const clients: ClientRoom[] = [];
  const counters = new Map<number, { sent: number; received: number; receivedBytes: number; outOfOrder: number; duplicates: number; latency: SampleReservoir }>();
  const lastSeq = new Map<string, number>();
  const newestSent = new Map<string, number>();
  let traffic: TrafficSpec | null = null;
  let freshness = new SampleReservoir(maxSamples, 7);
  let frames = 0;
  let stopped = false;
  let countFrom = -Infinity;
  const scratch = new Map<number, Uint8Array>();
  const counter = (channel: number) => {
    let c = counters.get(channel);
    if (!c) {
      c = { sent: 0, received: 0, receivedBytes: 0, outOfOrder: 0, duplicates: 0, latency: new SampleReservoir(maxSamples, 11 + channel) };
      counters.set(channel, c);
    }
    return c;
  };
  const sendSeq = new Map<string, number>();

  for (let i = 0; i < options.count; i++) {
    const client = new ColyseusClient(options.url);
    const room = await client.joinOrCreate(BENCH_ROOM);
    const localIndex = i;
    room.onMessage('*', (type: string | number, message: unknown) => {
      if (!(message instanceof Uint8Array) || message.length < HEADER_BYTES) return;
      const now = monotonicMs();
      const channel = Number(type);
      const c = counter(channel);
      const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
      const sentAt = view.getFloat64(0);
      const seq = view.getUint32(8);
      const sender = view.getUint32(12);
      if (sentAt >= countFrom) {
        c.received++;
        c.receivedBytes += message.length;
        c.latency.add(now - sentAt);
      }
      const key = `${localIndex}:${sender}:${channel}`;
      const last = lastSeq.get(key);
      if (last !== undefined && seq !== last + 1) {
        if (seq <= last) c.duplicates++;
        else c.outOfOrder++;
      }
      lastSeq.set(key, seq);
      if (sentAt > (newestSent.get(key) ?? -Infinity)) newestSent.set(key, sentAt);
    });
    clients.push(room);
  }

  const payload = (bytes: number): Uint8Array => {
    let b = scratch.get(bytes);
    if (!b) {
      b = new Uint8Array(bytes);
      scratch.set(bytes, b);
    }
    return b;
  };

  const periodMs = 1000 / options.frameHz;
  let nextAt = performance.now();
  let timer: ReturnType<typeof setTimeout> | null = null;
  const frame = (): void => {
    timer = null;
    if (stopped) return;
    if (traffic) {
      for (const stream of traffic.streams) {
        if (frames % (stream.everyFrames ?? 1) !== 0) continue;
        clients.forEach((room, i) => {
          if (traffic?.senders && !traffic.senders.includes(i)) return;
          for (let k = 0; k < stream.perFrame; k++) {
            const data = payload(Math.max(HEADER_BYTES, stream.bytes));
            const view = new DataView(data.buffer);
            const key = `${i}:${stream.channel}`;
            const seq = sendSeq.get(key) ?? 0;
            const sentAt = monotonicMs();
            view.setFloat64(0, sentAt);
            view.setUint32(8, seq);
            view.setUint32(12, options.firstIndex + i);
            room.sendBytes(stream.channel, data);
            sendSeq.set(key, seq + 1);
            if (sentAt >= countFrom) counter(stream.channel).sent++;
          }
        });
      }
      if (traffic.freshnessChannel !== undefined) {
        const now = monotonicMs();
        for (const [key, sentAt] of newestSent) if (key.endsWith(`:${traffic.freshnessChannel}`)) freshness.add(now - sentAt);
      }
    }
    frames++;
    nextAt += periodMs;
    const now = performance.now();
    if (now - nextAt > periodMs) nextAt = now;
    timer = setTimeout(frame, Math.max(0, nextAt - now));
  };
  frame();

  return {
    info: { count: clients.length },
    methods: {
      setTraffic: (spec: TrafficSpec | null) => {
        traffic = spec;
        return { ok: true };
      },
      resetStats: (args: { sinceMs?: number } = {}) => {
        countFrom = args.sinceMs ?? -Infinity;
        counters.clear();
        freshness = new SampleReservoir(maxSamples, 7);
        frames = 0;
        return { ok: true };
      },
      results: (args: { raw?: boolean } = {}) => {
        const channels: Record<string, ChannelResult> = {};
        for (const [channel, c] of counters) {
          channels[String(channel)] = { sent: c.sent, refused: {}, received: c.received, receivedBytes: c.receivedBytes, outOfOrder: c.outOfOrder, duplicates: c.duplicates, latencyMs: distribution(c.latency.samples()), ...(args.raw ? { samples: c.latency.samples().slice() } : {}) };
        }
        return { channels, frames, freshnessMs: freshness.count > 0 ? distribution(freshness.samples()) : null, ...(args.raw ? { freshnessSamples: freshness.samples().slice() } : {}) };
      },
    },
    stop: async () => {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      await Promise.all(clients.map((room) => room.leave(true).catch(() => undefined)));
    },
  };
};
