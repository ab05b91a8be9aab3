/**
 * Role `tcp-forwarder`: a Node middle process that pipes each accepted TCP connection to a target
 * port on 127.0.0.1 — the TCP baseline for bulk throughput (the kernel batches segments, Node
 * moves big chunks per syscall).
 */
import * as net from 'net';
import type { RoleFactory } from '../lib/role-protocol';
import { LOOPBACK } from './udp-util';

export interface TcpForwarderInfo {
  port: number;
}

export const tcpForwarderRole: RoleFactory = async (options: { targetPort: number }) => {
  let forwardedBytes = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((inbound) => {
    const outbound = net.connect({ port: options.targetPort, host: LOOPBACK });
    sockets.add(inbound);
    sockets.add(outbound);
    inbound.on('data', (chunk) => {
      forwardedBytes += chunk.length;
      if (!outbound.write(chunk)) inbound.pause();
    });
    outbound.on('drain', () => inbound.resume());
    outbound.on('data', (chunk) => {
      if (!inbound.write(chunk)) outbound.pause();
    });
    inbound.on('drain', () => outbound.resume());
    const end = (): void => {
      inbound.destroy();
      outbound.destroy();
      sockets.delete(inbound);
      sockets.delete(outbound);
    };
    inbound.on('close', end);
    outbound.on('close', end);
    inbound.on('error', end);
    outbound.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen({ port: 0, host: LOOPBACK }, resolve));
  const info: TcpForwarderInfo = { port: (server.address() as net.AddressInfo).port };
  return {
    info,
    counters: () => ({ forwardedBytes }),
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};

/** Role `tcp-sink`: accepts connections on 127.0.0.1 and counts the bytes it reads. */
export const tcpSinkRole: RoleFactory = async () => {
  let receivedBytes = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('data', (chunk) => {
      receivedBytes += chunk.length;
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen({ port: 0, host: LOOPBACK }, resolve));
  return {
    info: { port: (server.address() as net.AddressInfo).port },
    counters: () => ({ receivedBytes }),
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};

/** Role `tcp-source`: writes 64 KiB chunks to 127.0.0.1:port as fast as the socket drains, for at most maxMs. */
export const tcpSourceRole: RoleFactory = async (options: { port: number }) => {
  let sentBytes = 0;
  let running = false;
  let deadline: ReturnType<typeof setTimeout> | null = null;
  const socket = net.connect({ port: options.port, host: LOOPBACK });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  const chunk = Buffer.alloc(64 * 1024);
  const pump = (): void => {
    while (running) {
      sentBytes += chunk.length;
      if (!socket.write(chunk)) {
        socket.once('drain', pump);
        return;
      }
    }
  };
  return {
    info: {},
    counters: () => ({ sentBytes }),
    methods: {
      start: (args: { maxMs: number }) => {
        running = true;
        deadline = setTimeout(() => {
          running = false;
        }, args.maxMs);
        pump();
        return { ok: true };
      },
      halt: () => {
        running = false;
        return { sentBytes };
      },
    },
    stop: () => {
      running = false;
      if (deadline !== null) clearTimeout(deadline);
      socket.destroy();
    },
  };
};
