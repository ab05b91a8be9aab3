/** Every role a benchmark can start in a child process, by name. */
import type { RoleFactory } from '../lib/role-protocol';
import { allocProbeRole } from './alloc-probe';
import { bareForwarderRole } from './bare-forwarder';
import { colyseusMeshRole, colyseusServerRole } from './colyseus';
import { enetPeerRole } from './enet-peer';
import { impairProxyRole } from './impair-proxy';
import { meshRole } from './mesh';
import { relayRole } from './relay';
import { tcpForwarderRole, tcpSinkRole, tcpSourceRole } from './tcp-forwarder';
import { udpFloodRole } from './udp-flood';

export const roles: Record<string, RoleFactory> = {
  relay: relayRole,
  'alloc-probe': allocProbeRole,
  'bare-udp-forwarder': bareForwarderRole,
  'tcp-forwarder': tcpForwarderRole,
  'tcp-sink': tcpSinkRole,
  'tcp-source': tcpSourceRole,
  'udp-flood': udpFloodRole,
  mesh: meshRole,
  'impair-proxy': impairProxyRole,
  'enet-peer': enetPeerRole,
  'colyseus-server': colyseusServerRole,
  'colyseus-mesh': colyseusMeshRole,
};
