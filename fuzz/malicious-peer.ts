/**
 * A hostile peer that the target has opened (a lobby member gone bad): it owns a real identity and
 * relay session, completes the real handshake, and then seals whatever frames it likes with valid
 * keys — so its junk gets past the stranger filter and the AEAD and reaches the reliability layer.
 */
import { SecureSession, roleFor } from '../plugin/net/crypto';
import { Identity } from '../plugin/net/identity';
import { encodeRoute } from '../plugin/net/route';
import type { MemorySocket, MemorySwitch } from '../plugin/net/transport/memory-switch';
import { decodeRelayDatagram, encodeData, encodeRegister } from '../plugin/net/wire/relay-codec';
import type { PeerId } from '../plugin/net/types';

export class MaliciousPeer {
  readonly identity = Identity.generate();
  readonly socket: MemorySocket;
  sessionId: bigint | null = null;
  route: string | null = null;
  private session: SecureSession | null = null;
  private targetSession: bigint | null = null;
  private packetNumber = 0;
  sealedSent = 0;

  constructor(private readonly sw: MemorySwitch) {
    this.socket = sw.createSocket(sw.wsUrl);
    this.socket.onOpen = () => {
      const nonce = new Uint8Array(8);
      globalThis.crypto.getRandomValues(nonce);
      this.socket.send(encodeRegister({ nonce }));
    };
    this.socket.onMessage = (bytes) => this.receive(bytes);
  }

  get id(): PeerId {
    return this.identity.peerId;
  }

  get established(): boolean {
    return this.session?.isEstablished ?? false;
  }

  /** Starts the real handshake with the target (after the target opened this peer with `route`). */
  attack(targetPublicKey: Uint8Array, targetPeerId: PeerId, targetSession: bigint): void {
    this.targetSession = targetSession;
    this.session = new SecureSession({
      identity: this.identity,
      remotePublicKey: targetPublicKey,
      role: roleFor(this.identity.peerId, targetPeerId),
      incarnation: 7n,
      clock: this.sw.clock,
    });
  }

  /** Handshake retries; call every frame. */
  poll(): void {
    if (this.session === null) return;
    const handshake = this.session.pollHandshake(this.sw.now);
    if (handshake !== null) this.sendRaw(handshake);
  }

  /** Seals `plaintext` as the next DATA packet; false before the handshake completes. */
  sendSealed(plaintext: Uint8Array): boolean {
    if (this.session === null || !this.session.isEstablished || this.packetNumber >= 0xfff0_0000) return false;
    this.sendRaw(this.session.seal(this.packetNumber++, plaintext));
    this.sealedSent++;
    return true;
  }

  /** Any bytes as a peer packet from this session (the relay stamps the source). */
  sendRaw(payload: Uint8Array): void {
    if (this.targetSession === null || payload.length === 0) return;
    this.socket.send(encodeData(this.targetSession, payload));
  }

  private receive(bytes: Uint8Array): void {
    const decoded = decodeRelayDatagram(bytes);
    if (!decoded.ok) return;
    const message = decoded.value;
    if (message.kind === 'registered' && this.sessionId === null) {
      this.sessionId = message.sessionId;
      this.route = encodeRoute({ relayId: message.relayId.slice(), sessionId: message.sessionId, publicKey: this.identity.publicKey, endpoints: [...message.endpoints] });
      return;
    }
    if (message.kind !== 'delivery' || this.session === null || message.source !== this.targetSession) return;
    // Handshake packets get answered; the target's DATA (acks) is ignored: this peer never listens.
    if (message.payload[0] === 0x03) return;
    const outcome = this.session.handleHandshake(new Uint8Array(message.payload), this.sw.now);
    if (outcome.kind === 'reply') this.sendRaw(outcome.packet);
  }
}
