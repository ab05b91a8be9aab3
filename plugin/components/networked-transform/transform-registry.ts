/**
 * The scene-wide side of NetworkedTransform: keeps every attached transform, sends the owned ones'
 * snapshots (late update, before the flush) and feeds received snapshots to the replicas, which
 * take their interpolated pose in early update. A replica only accepts snapshots from its owner's
 * peer id, so no other peer can move it.
 */
import type { Subscription } from 'rxjs';
import { ByteWriter } from '../../net/wire';
import type { Clock, Logger, PeerId } from '../../net/types';
import type { NetworkManagerComponent } from '../network-manager-component';
import type { Pose } from './pose-math';
import { decodeTransformSnapshot, TRANSFORM_SNAPSHOT_KIND, TRANSFORM_SNAPSHOT_MAX_BYTES, writeTransformSnapshot } from './snapshot-codec';
import { SnapshotInterpolator } from './snapshot-interpolator';

/** What the registry needs from a node: read its pose (owner) or set it (replica). */
export interface ReplicatedTransform {
  readonly entityId: number;
  readonly owner: PeerId;
  readPose(): Pose;
  applyPose(pose: Pose): void;
}

export interface TransformTiming {
  /** Snapshots per second an owner sends. */
  sendRateHz: number;
  interpolationDelayMs: number;
  snapAfterGapMs: number;
}

export interface TransformRegistryOptions extends TransformTiming {
  /** The unreliable channel snapshots travel on. */
  channelId: number;
  clock: Clock;
  logger: Logger;
  /** Transforms registered at most (default 4096). */
  maxTransforms?: number;
}

export interface TransformRegistryStats {
  /** Snapshots of owned nodes taken and handed to broadcast (to however many peers were connected). */
  snapshotsSent: number;
  snapshotsReceived: number;
  staleSnapshots: number;
  /** Snapshots naming an entity this scene has no replica of (for that sender). */
  unknownEntity: number;
  undecodable: number;
  /** Messages on the channel that are not snapshots (another message kind first byte). */
  otherMessages: number;
}

interface OwnedEntry {
  transform: ReplicatedTransform;
  intervalMs: number;
  nextSendAt: number | null;
}

interface ReplicaEntry {
  transform: ReplicatedTransform;
  interpolator: SnapshotInterpolator;
}

export class TransformRegistry {
  private readonly owned = new Map<string, OwnedEntry>();
  private readonly replicas = new Map<string, ReplicaEntry>();
  private readonly writer = new ByteWriter(TRANSFORM_SNAPSHOT_MAX_BYTES);
  private readonly subscription: Subscription;
  private readonly maxTransforms: number;
  private readonly counters: TransformRegistryStats = { snapshotsSent: 0, snapshotsReceived: 0, staleSnapshots: 0, unknownEntity: 0, undecodable: 0, otherMessages: 0 };
  private disposed = false;

  constructor(private readonly network: NetworkManagerComponent, private readonly options: TransformRegistryOptions) {
    this.maxTransforms = options.maxTransforms ?? 4096;
    this.subscription = network.messagesOn(options.channelId).subscribe((message) => this.onMessage(message.peerId, message.data));
  }

  get stats(): Readonly<TransformRegistryStats> {
    return { ...this.counters };
  }

  get size(): number {
    return this.owned.size + this.replicas.size;
  }

  /** Adds a transform; owned when its owner is this manager's peer id. The handle removes it. */
  register(transform: ReplicatedTransform, timing: Partial<TransformTiming> = {}): { dispose(): void } {
    if (this.disposed) throw new Error('NetworkedTransform: the Switchboard plugin of this scene is disposed');
    const key = keyOf(transform.owner, transform.entityId);
    if (this.owned.has(key) || this.replicas.has(key)) throw new Error(`NetworkedTransform: entity ${transform.entityId} of owner ${transform.owner} is already attached to a node of this scene`);
    if (this.size >= this.maxTransforms) throw new Error(`NetworkedTransform: at most ${this.maxTransforms} transforms per scene`);
    const settings: TransformTiming = { ...pickTiming(this.options), ...definedOnly(timing) };
    const isOwner = transform.owner === this.network.getPeerId();
    if (isOwner) this.owned.set(key, { transform, intervalMs: 1000 / settings.sendRateHz, nextSendAt: null });
    else this.replicas.set(key, { transform, interpolator: new SnapshotInterpolator({ delayMs: settings.interpolationDelayMs, snapAfterGapMs: settings.snapAfterGapMs }) });
    let removed = false;
    return {
      dispose: () => {
        if (removed) return;
        removed = true;
        if (isOwner) this.owned.delete(key);
        else this.replicas.delete(key);
      },
    };
  }

  /** Late update: queue a snapshot of every owned transform whose send time has come. */
  sendOwned(nowMs: number): void {
    if (this.disposed) return;
    for (const entry of this.owned.values()) {
      if (entry.nextSendAt !== null && nowMs < entry.nextSendAt) continue;
      // Keep the average rate when frames are late, but never burst to catch up after a stall.
      entry.nextSendAt = entry.nextSendAt === null || nowMs - entry.nextSendAt >= entry.intervalMs ? nowMs + entry.intervalMs : entry.nextSendAt + entry.intervalMs;
      // sendMessage copies, so the writer's view can be reused for the next snapshot.
      const bytes = writeTransformSnapshot(this.writer, { entityId: entry.transform.entityId, timeMs: Math.floor(nowMs), pose: entry.transform.readPose() });
      this.network.broadcast(this.options.channelId, bytes);
      this.counters.snapshotsSent++;
    }
  }

  /** Early update (after receive): move every replica to its interpolated pose. */
  applyReplicas(nowMs: number): void {
    if (this.disposed) return;
    for (const entry of this.replicas.values()) {
      const pose = entry.interpolator.sample(nowMs);
      if (pose) entry.transform.applyPose(pose);
    }
  }

  /** The interpolator of a replica, for diagnostics and tests. */
  interpolatorOf(owner: PeerId, entityId: number): SnapshotInterpolator | undefined {
    return this.replicas.get(keyOf(owner, entityId))?.interpolator;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.subscription.unsubscribe();
    this.owned.clear();
    this.replicas.clear();
  }

  private onMessage(sender: PeerId, data: Uint8Array): void {
    if (data.length === 0 || data[0] !== TRANSFORM_SNAPSHOT_KIND) {
      this.counters.otherMessages++;
      return;
    }
    const decoded = decodeTransformSnapshot(data);
    if (!decoded.ok) {
      this.counters.undecodable++;
      return;
    }
    const replica = this.replicas.get(keyOf(sender, decoded.value.entityId));
    if (!replica) {
      this.counters.unknownEntity++;
      return;
    }
    this.counters.snapshotsReceived++;
    if (replica.interpolator.push(decoded.value.timeMs, decoded.value.pose, this.options.clock.now()) === 'stale') this.counters.staleSnapshots++;
  }
}

function keyOf(owner: PeerId, entityId: number): string {
  return `${owner}:${entityId}`;
}

function pickTiming(options: TransformTiming): TransformTiming {
  return { sendRateHz: options.sendRateHz, interpolationDelayMs: options.interpolationDelayMs, snapAfterGapMs: options.snapAfterGapMs };
}

function definedOnly(timing: Partial<TransformTiming>): Partial<TransformTiming> {
  return Object.fromEntries(Object.entries(timing).filter(([, v]) => v !== undefined)) as Partial<TransformTiming>;
}
