/**
 * The net graph: one row per peer with its live RTT, loss and kbit/s, and a sparkline of the
 * last samples (throughput filled, RTT as a line), so a developer sees the network at a glance.
 * Numbers come from getPeerStats() through NetGraphModel.
 */
import type { PeerId } from 'switchboard';
import { NetGraphModel, sparklinePoints, type NetGraphPeer } from '../game/net-graph-model';
import type { GameSession } from '../session/game-session';

const SPARK_WIDTH = 120;
const SPARK_HEIGHT = 26;

interface Row {
  element: HTMLDivElement;
  name: HTMLSpanElement;
  numbers: HTMLSpanElement;
  canvas: HTMLCanvasElement;
}

export class NetGraphOverlay {
  private readonly model = new NetGraphModel({ capacity: 60 });
  private readonly rows = new Map<PeerId, Row>();
  private readonly body: HTMLDivElement;
  private readonly empty: HTMLDivElement;
  private timer: ReturnType<typeof setInterval> | null;

  constructor(
    private readonly panel: HTMLElement,
    private readonly session: GameSession,
    intervalMs = 250,
  ) {
    const title = document.createElement('div');
    title.className = 'net-graph-title';
    title.textContent = 'net graph · rtt · loss · kbit/s';
    this.body = document.createElement('div');
    this.empty = document.createElement('div');
    this.empty.className = 'net-graph-empty';
    this.empty.textContent = 'no peers yet — open this page in another tab';
    panel.replaceChildren(title, this.body, this.empty);
    this.timer = setInterval(() => this.refresh(), intervalMs);
  }

  refresh(): void {
    this.model.sample(performance.now(), this.session.peerStats());
    const peers = this.model.peers();
    this.empty.style.display = peers.length === 0 ? '' : 'none';
    const seen = new Set<PeerId>();
    for (const peer of peers) {
      seen.add(peer.peerId);
      this.draw(this.rowFor(peer.peerId), peer);
    }
    for (const [peerId, row] of this.rows) {
      if (seen.has(peerId)) continue;
      row.element.remove();
      this.rows.delete(peerId);
    }
  }

  dispose(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.panel.replaceChildren();
    this.rows.clear();
  }

  private rowFor(peerId: PeerId): Row {
    let row = this.rows.get(peerId);
    if (row) return row;
    const player = this.session.player(peerId);
    const element = document.createElement('div');
    element.className = 'net-graph-row';
    const name = document.createElement('span');
    name.className = 'net-graph-name';
    name.textContent = player?.label ?? String(peerId);
    name.style.color = player?.cssColour ?? '#ccc';
    const numbers = document.createElement('span');
    numbers.className = 'net-graph-numbers';
    const canvas = document.createElement('canvas');
    canvas.width = SPARK_WIDTH;
    canvas.height = SPARK_HEIGHT;
    canvas.className = 'net-graph-spark';
    element.append(name, numbers, canvas);
    this.body.appendChild(element);
    row = { element, name, numbers, canvas };
    this.rows.set(peerId, row);
    return row;
  }

  private draw(row: Row, peer: NetGraphPeer): void {
    const latest = peer.latest;
    const state = peer.state === 'connected' ? '' : ` ${peer.state}`;
    row.numbers.textContent = latest
      ? `${latest.rttMs.toFixed(0).padStart(4)} ms ${(latest.lossRate * 100).toFixed(1).padStart(5)} % ${latest.kbitPerSecond.toFixed(1).padStart(6)}${state}`
      : `—${state}`;
    const context = row.canvas.getContext('2d');
    if (!context) return;
    context.clearRect(0, 0, SPARK_WIDTH, SPARK_HEIGHT);
    const kbps = sparklinePoints(peer.samples.map((s) => s.kbitPerSecond), SPARK_WIDTH, SPARK_HEIGHT, 8);
    if (kbps.length > 1) {
      context.beginPath();
      context.moveTo(kbps[0]!.x, SPARK_HEIGHT);
      for (const p of kbps) context.lineTo(p.x, p.y);
      context.lineTo(kbps[kbps.length - 1]!.x, SPARK_HEIGHT);
      context.closePath();
      context.fillStyle = 'rgba(90, 170, 255, 0.45)';
      context.fill();
    }
    const rtt = sparklinePoints(peer.samples.map((s) => s.rttMs), SPARK_WIDTH, SPARK_HEIGHT, 50);
    if (rtt.length > 1) {
      context.beginPath();
      rtt.forEach((p, i) => (i === 0 ? context.moveTo(p.x, p.y) : context.lineTo(p.x, p.y)));
      context.strokeStyle = 'rgba(255, 210, 90, 0.95)';
      context.lineWidth = 1.25;
      context.stroke();
    }
    // Loss shows as a red bar along the bottom, as wide as the loss rate.
    if (latest && latest.lossRate > 0) {
      context.fillStyle = 'rgba(255, 80, 80, 0.9)';
      context.fillRect(0, SPARK_HEIGHT - 2, SPARK_WIDTH * Math.min(1, latest.lossRate), 2);
    }
  }
}
