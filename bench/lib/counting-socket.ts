/** A DatagramSocket wrapper that counts what crosses it (DATA apart from control), for the benchmarks' wire figures. */
import type { DatagramSocket } from '../../plugin/net/transport/datagram-socket';

export interface WireCounters {
  dataDatagramsOut: number;
  dataBytesOut: number;
  controlDatagramsOut: number;
  controlBytesOut: number;
  datagramsIn: number;
  bytesIn: number;
}

export function newWireCounters(): WireCounters {
  return { dataDatagramsOut: 0, dataBytesOut: 0, controlDatagramsOut: 0, controlBytesOut: 0, datagramsIn: 0, bytesIn: 0 };
}

const DATA = 0x03;

export function wrapForCounting(inner: DatagramSocket, counters: WireCounters): DatagramSocket {
  const wrapper: DatagramSocket = {
    onOpen: null,
    onMessage: null,
    onClose: null,
    send(datagram: Uint8Array): void {
      if (datagram[0] === DATA) {
        counters.dataDatagramsOut++;
        counters.dataBytesOut += datagram.length;
      } else {
        counters.controlDatagramsOut++;
        counters.controlBytesOut += datagram.length;
      }
      inner.send(datagram);
    },
    close: () => inner.close(),
    // The WebRTC link starts its upgrade when told the session, and says which link carries DATA.
    get linkKind() {
      return inner.linkKind;
    },
    sessionRegistered: (sessionId) => inner.sessionRegistered?.(sessionId),
  };
  inner.onOpen = () => wrapper.onOpen?.();
  inner.onClose = (reason) => wrapper.onClose?.(reason);
  inner.onMessage = (datagram) => {
    counters.datagramsIn++;
    counters.bytesIn += datagram.length;
    wrapper.onMessage?.(datagram);
  };
  return wrapper;
}
