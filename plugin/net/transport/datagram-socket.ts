/**
 * A datagram link to one relay: UDP on Node, WebSocket (one binary message per datagram) in
 * browsers and Node. Everything above it (the relay client, the conditioner) sees only this.
 */
export interface DatagramSocket {
  /**
   * Hands one datagram to the link. The socket may keep `datagram` until it is on the wire, so
   * the caller must not modify it afterwards. Dropped silently when the socket is not open yet,
   * is closed, or its send buffer is over its bound (datagrams may be lost anyway).
   */
  send(datagram: Uint8Array): void;
  /** Fires once when datagrams can be sent. */
  onOpen: (() => void) | null;
  /**
   * One received datagram, handed over: the socket never reuses or changes its memory afterwards,
   * so the receiver keeps it without copying (every link here gets a fresh buffer per datagram
   * from its runtime: dgram, WebSocket and data-channel messages). A link that reuses a buffer
   * must copy before calling this.
   */
  onMessage: ((datagram: Uint8Array) => void) | null;
  /** Fires once when the link closes by itself (error, remote close) — not after `close()`. */
  onClose: ((reason: string) => void) | null;
  /**
   * A transient error that does not close the link (a UDP socket's ICMP "port unreachable"), so
   * the relay client can name the cause when the relay never answers. Optional.
   */
  onError?: ((reason: string) => void) | null;
  /** Closes the link; idempotent; resolves when the underlying socket is released. */
  close(): Promise<void>;
  /** Which link carries DATA now, for links that can change (the WebRTC link); others are known by their URL scheme. */
  readonly linkKind?: LinkKind;
  /** Told by the relay client once the relay has registered a session over this link (the WebRTC link starts its upgrade then). */
  sessionRegistered?(sessionId: bigint): void;
}

/** The link that carries a client's datagrams to the relay. */
export type LinkKind = 'udp' | 'websocket' | 'webrtc';

/**
 * Which link a browser-style (ws://, wss://) relay connection uses: 'auto' tries a WebRTC data
 * channel where the runtime has RTCPeerConnection and stays on the WebSocket when it cannot
 * connect; 'webrtc' carries DATA only over a data channel and fails clearly when it cannot;
 * 'websocket' never tries WebRTC. udp:// relays always use UDP ('webrtc' is refused for them).
 */
export type TransportPreference = 'auto' | 'webrtc' | 'websocket';
export const TRANSPORT_PREFERENCES: readonly TransportPreference[] = ['auto', 'webrtc', 'websocket'];

export function isTransportPreference(value: unknown): value is TransportPreference {
  return typeof value === 'string' && (TRANSPORT_PREFERENCES as readonly string[]).includes(value);
}

export type RelayScheme = 'udp' | 'ws' | 'wss';

export interface RelayUrl {
  scheme: RelayScheme;
  /** Host name or IP address, without IPv6 brackets. */
  host: string;
  port: number;
  /** The URL as given. */
  url: string;
}

/**
 * Parses a relay URL: `udp://host:port`, `ws://host[:port]` or `wss://host[:port]`.
 * Throws an Error that names what is wrong.
 */
export function parseRelayUrl(url: string): RelayUrl {
  if (typeof url !== 'string' || url.length === 0) throw new Error('relay url must be a non-empty string like udp://127.0.0.1:7777 or ws://127.0.0.1:7777');
  if (url.length > 2048) throw new Error('relay url is longer than 2048 characters');
  // Named before URL parsing, which would only say "not a URL" for a port past 65535.
  const portText = /^[a-z][a-z0-9+.-]*:\/\/(?:\[[^\]]*\]|[^/?#:@]*):(\d+)(?:[/?#]|$)/i.exec(url)?.[1];
  if (portText !== undefined && (Number(portText) < 1 || Number(portText) > 65535)) {
    throw new Error(`relay url "${url}" has port ${portText}, expected 1..65535`);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`relay url "${url}" is not a URL; expected udp://host:port, ws://host:port or wss://host:port`);
  }
  const scheme = parsed.protocol.slice(0, -1);
  if (scheme !== 'udp' && scheme !== 'ws' && scheme !== 'wss') {
    throw new Error(`relay url "${url}" has scheme "${scheme}:"; supported are udp://, ws:// and wss://`);
  }
  const host = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
  if (host.length === 0) throw new Error(`relay url "${url}" has no host`);
  if (parsed.username !== '' || parsed.password !== '') throw new Error(`relay url "${url}" must not carry credentials`);
  let port: number;
  if (parsed.port === '') {
    if (scheme === 'udp') throw new Error(`relay url "${url}" needs a port (udp://host:port)`);
    port = scheme === 'wss' ? 443 : 80;
  } else {
    port = Number(parsed.port);
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`relay url "${url}" has port ${parsed.port}, expected 1..65535`);
  if (scheme === 'udp' && ((parsed.pathname !== '' && parsed.pathname !== '/') || parsed.search !== '' || parsed.hash !== '')) {
    throw new Error(`relay url "${url}": a udp:// url is only udp://host:port`);
  }
  return { scheme, host, port, url };
}
