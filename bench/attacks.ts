/**
 * The attack campaign of issue 13, measured: `node -C switchboard-source -r ts-node/register/transpile-only bench/attacks.ts`.
 * Everything on 127.0.0.1, every loop bounded in count and time; the relay runs in its own
 * process (bench role `relay`), the attackers and the honest client in this one. The figures go
 * into SECURITY.md.
 */
import * as dgram from 'dgram';
import { WebSocket } from 'ws';
import { RelayClient } from '../plugin/net/transport/relay-client';
import { MIN_UDP_REGISTER_BYTES, decodeRelayDatagram, encodeData, encodeRegister } from '../plugin/net/wire/relay-codec';
import { createRelayToken, generateRelaySecret } from '../server/relay/token';
import { spawnRole, type RoleChild } from './lib/child';
import type { RelayRoleInfo } from './roles/relay';
import { bindLoopbackUdp, closeUdp, LOOPBACK } from './roles/udp-util';

const ATTACK_SECRET = generateRelaySecret();

const quiet = { info: (): void => undefined, warn: (): void => undefined };
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Holds up to `concurrent` idle WebSockets, reopening closed ones, `maxAttempts` in all. */
class Flood {
  attempts = 0;
  opened = 0;
  closed = 0;
  private readonly live = new Set<WebSocket>();
  private stopped = false;
  constructor(private readonly url: string, private readonly concurrent: number, private readonly maxAttempts: number) {}
  start(): this {
    for (let i = 0; i < this.concurrent; i++) this.openOne();
    return this;
  }
  get openNow(): number {
    let n = 0;
    for (const ws of this.live) if (ws.readyState === WebSocket.OPEN) n++;
    return n;
  }
  private openOne(): void {
    if (this.stopped || this.attempts >= this.maxAttempts) return;
    this.attempts++;
    const ws = new WebSocket(this.url);
    this.live.add(ws);
    ws.on('open', () => this.opened++);
    ws.on('error', () => undefined);
    ws.on('close', () => {
      this.closed++;
      this.live.delete(ws);
      setImmediate(() => this.openOne());
    });
  }
  async stop(): Promise<void> {
    this.stopped = true;
    for (const ws of this.live) ws.terminate();
    for (let i = 0; i < 200 && this.live.size > 0; i++) await sleep(25);
  }
}

async function honestRegistration(url: string, token: string | undefined, boundMs: number): Promise<{ ms: number | null; refusals: number }> {
  const client = new RelayClient({ url, token, logger: quiet });
  let refusals = 0;
  client.onRefused = () => refusals++;
  const started = performance.now();
  let registeredAt: number | null = null;
  client.onRegistered = () => (registeredAt = performance.now());
  client.start();
  while (registeredAt === null && performance.now() - started < boundMs) await sleep(5);
  await client.dispose();
  return { ms: registeredAt === null ? null : Math.round((registeredAt as number) - started), refusals };
}

async function wsFlood(name: string, relayOptions: Record<string, unknown>, concurrent: number, maxAttempts: number, secret?: string): Promise<void> {
  const relay: RoleChild<RelayRoleInfo> = await spawnRole<RelayRoleInfo>('relay', { registrationsPerIpPerSecond: 20, ...relayOptions });
  try {
    const flood = new Flood(relay.info.wsUrl, concurrent, maxAttempts).start();
    const floodStart = performance.now();
    // Full strength: every first connection opened or turned away (bounded to 20 s).
    while (flood.opened + flood.closed < concurrent && performance.now() - floodStart < 20_000) await sleep(10);
    const strengthMs = Math.round(performance.now() - floodStart);
    const stats = await relay.call<{ wsConnections: number; wsPendingConnections?: number }>('stats');
    const token = secret !== undefined ? createRelayToken(secret, { ttlSeconds: 60 }) : undefined;
    const honest = await honestRegistration(relay.info.wsUrl, token, 10_000);
    const after = await relay.call<{ wsConnections: number; wsConnectionsEvicted?: number }>('stats');
    console.log(
      JSON.stringify({
        attack: name,
        flood: { concurrent, attemptsSoFar: flood.attempts, openedSoFar: flood.opened, heldByAttacker: flood.openNow, reachedFullStrengthMs: strengthMs },
        relayConnectionsAtFullStrength: stats.wsConnections,
        relayEvicted: after.wsConnectionsEvicted ?? null,
        honestRegisteredAfterMs: honest.ms,
      }),
    );
    await flood.stop();
  } finally {
    await relay.stop();
  }
}

async function destinationFlood(name: string, relayOptions: Record<string, unknown>): Promise<void> {
  const relay: RoleChild<RelayRoleInfo> = await spawnRole<RelayRoleInfo>('relay', relayOptions);
  const sockets: dgram.Socket[] = [];
  try {
    const open = async (): Promise<{ socket: dgram.Socket; id: bigint; got: { bytes: number; fromHonest: number } }> => {
      const socket = await bindLoopbackUdp();
      sockets.push(socket);
      const got = { bytes: 0, fromHonest: 0 };
      let id = 0n;
      socket.on('message', (m) => {
        const d = decodeRelayDatagram(m);
        if (!d.ok) return;
        if (d.value.kind === 'registered') id = d.value.sessionId;
        if (d.value.kind === 'delivery') {
          got.bytes += m.length;
          if (m.length === 9 + 100) got.fromHonest++;
        }
      });
      socket.send(encodeRegister({ nonce: Uint8Array.of(0, 0, 0, 0, 0, 0, 0, sockets.length), padToBytes: MIN_UDP_REGISTER_BYTES }), relay.info.port, LOOPBACK);
      for (let i = 0; i < 200 && id === 0n; i++) await sleep(5);
      if (id === 0n) throw new Error('no registration');
      return { socket, id, got };
    };
    const victim = await open();
    const flooders = [await open(), await open(), await open()];
    const honest = await open();
    const before = await relay.call<{ forwardedBytes: number; drops: Record<string, number> }>('stats');
    const flood = encodeData(victim.id, new Uint8Array(1200));
    const gentle = encodeData(victim.id, new Uint8Array(100));
    const durationMs = 3000;
    const start = performance.now();
    let honestSent = 0;
    let floodSent = 0;
    // About 50 honest datagrams a second (5 kB/s) beside three flooders sending what the loop can (bounded by time and count).
    while (performance.now() - start < durationMs && floodSent < 3_000_000) {
      for (let i = 0; i < 32; i++) for (const f of flooders) f.socket.send(flood, relay.info.port, LOOPBACK);
      floodSent += 96;
      if ((performance.now() - start) / 20 > honestSent) {
        honest.socket.send(gentle, relay.info.port, LOOPBACK);
        honestSent++;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    await sleep(300);
    const after = await relay.call<{ forwardedBytes: number; drops: Record<string, number> }>('stats');
    const seconds = (performance.now() - start - 300) / 1000;
    console.log(
      JSON.stringify({
        attack: name,
        offeredToVictimMBps: +((floodSent * flood.length) / seconds / 1e6).toFixed(1),
        relayForwardedToVictimMBps: +((after.forwardedBytes - before.forwardedBytes) / seconds / 1e6).toFixed(2),
        victimReceivedMBps: +(victim.got.bytes / seconds / 1e6).toFixed(2),
        honestSent,
        honestReceived: victim.got.fromHonest,
        inboundLimited: (after.drops.inboundLimited ?? 0) - (before.drops.inboundLimited ?? 0),
        rateLimited: after.drops.rateLimited - before.drops.rateLimited,
      }),
    );
  } finally {
    for (const s of sockets) await closeUdp(s);
    await relay.stop();
  }
}

async function main(): Promise<void> {
  const only = process.argv[2];
  if (!only || only === 'ws-100') await wsFlood('228+ idle WebSockets, maxSessions 100', { maxSessions: 100 }, 300, 3_000);
  if (!only || only === 'ws-default') await wsFlood('10,000 idle WebSockets held, default limits, secret', { secret: ATTACK_SECRET }, 10_000, 20_000, ATTACK_SECRET);
  if (!only || only === 'destination') await destinationFlood('3 flooders and 1 honest source at one victim, default limits', {});
  process.exit(0);
}

void main();
