import { expect } from 'chai';
import * as dgram from 'dgram';
import * as http from 'http';
import * as net from 'net';
import { startRelay } from '../../server';
import { waitFor } from '../helpers/wait';
import { quietLogger, registeredClient } from './relay-test-helpers';

async function expectRejection(promise: Promise<unknown>, fragment: string): Promise<void> {
  let error: Error | null = null;
  try {
    await promise;
  } catch (caught) {
    error = caught as Error;
  }
  expect(error, `expected a rejection containing "${fragment}"`).to.not.equal(null);
  expect(error!.message).to.contain(fragment);
}

describe('relay startup and shutdown', () => {
  it('refuses bad options with errors naming them', async () => {
    await expectRejection(startRelay({ host: 'localhost', logger: quietLogger }), 'host must be an IP address');
    await expectRejection(startRelay({ port: 70000, logger: quietLogger }), 'port');
    await expectRejection(startRelay({ port: 0, keepaliveMs: 0, logger: quietLogger }), 'keepaliveMs');
    await expectRejection(startRelay({ port: 0, secret: '', logger: quietLogger }), 'secret');
    await expectRejection(startRelay({ port: 0, maxDatagramBytes: 1501, logger: quietLogger }), 'maxDatagramBytes');
  });

  it('fails clearly when the UDP port is taken', async () => {
    const relay = await startRelay({ port: 0, logger: quietLogger });
    try {
      await expectRejection(startRelay({ port: relay.port, logger: quietLogger }), `cannot bind UDP 127.0.0.1:${relay.port}`);
    } finally {
      await relay.close();
    }
  });

  it('fails clearly when UDP is free but TCP is taken on a fixed port', async () => {
    // A TCP port whose UDP twin is free (nearly always the first one; at most 5 tries).
    let blocker: net.Server | null = null;
    let port = 0;
    for (let attempt = 0; attempt < 5 && blocker === null; attempt++) {
      const server = net.createServer();
      await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1' }, resolve));
      port = (server.address() as net.AddressInfo).port;
      const probe = dgram.createSocket('udp4');
      const udpFree = await new Promise<boolean>((resolve) => {
        probe.once('error', () => resolve(false));
        probe.bind({ port, address: '127.0.0.1' }, () => resolve(true));
      });
      await new Promise<void>((resolve) => {
        try {
          probe.close(() => resolve());
        } catch {
          resolve(); // a socket whose bind failed may already be closed
        }
      });
      if (udpFree) blocker = server;
      else await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    expect(blocker, 'a TCP port with a free UDP twin').to.not.equal(null);
    try {
      await expectRejection(startRelay({ port, logger: quietLogger }), `TCP 127.0.0.1:${port} is not available`);
    } finally {
      await new Promise<void>((resolve) => blocker!.close(() => resolve()));
    }
  });

  it('answers a plain HTTP request with 426 Upgrade Required', async () => {
    const relay = await startRelay({ port: 0, logger: quietLogger });
    try {
      const status = await new Promise<number | undefined>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: relay.port, path: '/' }, (response) => {
          response.resume();
          resolve(response.statusCode);
        }).once('error', reject);
      });
      expect(status).to.equal(426);
    } finally {
      await relay.close();
    }
  });

  it('closes idempotently, tells WebSocket clients, and frees the port for a new relay', async () => {
    const relay = await startRelay({ port: 0, logger: quietLogger });
    const ws = await registeredClient({ url: relay.wsUrl, reconnectInitialDelayMs: 50, reconnectMaxDelayMs: 50 });
    const closing = relay.close();
    expect(relay.close()).to.equal(closing);
    await closing;
    await waitFor('the WebSocket client to notice the relay closed', () => ws.unregistered === 1);
    const again = await startRelay({ port: relay.port, logger: quietLogger });
    try {
      await waitFor('the client to register with the new relay on the same port', () => ws.registrations.length === 2, { timeoutMs: 5000 });
    } finally {
      await ws.client.dispose();
      await again.close();
    }
  });
});
