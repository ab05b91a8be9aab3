// Node ESM: a relay and two managers (udp:// on 127.0.0.1), one reliable message delivered.
import { startRelay } from 'switchboard-server';
import { NetworkManager, Result } from 'switchboard';
import { deliverOne } from './deliver-one.cjs';

await deliverOne({ startRelay, NetworkManager, Result }, 'hello from ESM');
