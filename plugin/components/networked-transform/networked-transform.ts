/**
 * NetworkedTransform: a Babylon Behavior<TransformNode> that replicates a node's local position
 * and rotation. On the peer named `owner` it sends snapshots (late update, `sendRateHz` per
 * second, on the plugin's unreliable transform channel); on every other peer the node is a replica
 * that shows the owner's pose `interpolationDelayMs` in the past (early update, after receive).
 *
 *   box.addBehavior(new NetworkedTransform({ entityId: 1, owner: hostPeerId }));
 *
 * Install Switchboard on the scene first. The owner must have the node's parent chain match the
 * replicas' (the local transform is what travels).
 */
import type { Behavior } from '@babylonjs/core/Behaviors/behavior.js';
import { Quaternion } from '@babylonjs/core/Maths/math.vector.js';
import type { TransformNode } from '@babylonjs/core/Meshes/transformNode.js';
import { findInstallation } from '../../host/installations';
import type { PeerId } from '../../net/types';
import type { Pose } from './pose-math';
import type { TransformTiming } from './transform-registry';

const OWNER_SYSTEM = 'switchboard.transform-owners';
const REPLICA_SYSTEM = 'switchboard.transform-replicas';

export interface NetworkedTransformOptions extends Partial<TransformTiming> {
  /** Identifies the node among its owner's networked nodes: an integer 0..2^32-1, the same on every peer. */
  entityId: number;
  /** Peer id of the peer that moves the node; everyone else shows a replica. */
  owner: PeerId;
}

export class NetworkedTransform implements Behavior<TransformNode> {
  readonly name = 'NetworkedTransform';
  attachedNode: TransformNode | null = null;
  readonly entityId: number;
  readonly owner: PeerId;
  private registration: { dispose(): void } | null = null;
  private ownedHere = false;

  constructor(private readonly options: NetworkedTransformOptions) {
    if (!Number.isInteger(options.entityId) || options.entityId < 0 || options.entityId > 0xffffffff) {
      throw new RangeError(`NetworkedTransform: entityId: expected an integer 0..4294967295, got ${String(options.entityId)}`);
    }
    if (typeof options.owner !== 'bigint' || options.owner <= 0n || options.owner > 0xffffffffffffffffn) {
      throw new TypeError(`NetworkedTransform: owner: expected a peer id (bigint 1..2^64-1), got ${String(options.owner)}`);
    }
    checkOptionalPositive(options.sendRateHz, 'sendRateHz', 120);
    checkOptionalPositive(options.interpolationDelayMs, 'interpolationDelayMs', 2000, true);
    checkOptionalPositive(options.snapAfterGapMs, 'snapAfterGapMs', 60_000);
    this.entityId = options.entityId;
    this.owner = options.owner;
  }

  /** True on the owner's peer while attached. */
  get isOwner(): boolean {
    return this.ownedHere;
  }

  init(): void {}

  attach(node: TransformNode): void {
    if (this.attachedNode) throw new Error(`NetworkedTransform ${this.entityId}: already attached to '${this.attachedNode.name}'`);
    const installation = findInstallation(node.getScene());
    if (!installation) throw new Error(`NetworkedTransform ${this.entityId}: Switchboard is not installed on the scene of '${node.name}'; call installSwitchboard(scene) first`);
    const isOwner = this.owner === installation.network.getPeerId();
    const [phase, system] = isOwner ? (['late-update', OWNER_SYSTEM] as const) : (['early-update', REPLICA_SYSTEM] as const);
    if (!installation.host.systemsOf(phase).includes(system)) throw new Error(`NetworkedTransform ${this.entityId}: the plugin manifest has no '${system}' system, so the node would never be ${isOwner ? 'sent' : 'updated'}`);
    this.registration = installation.transforms.register(
      { entityId: this.entityId, owner: this.owner, readPose: () => readPose(node), applyPose: (pose) => applyPose(node, pose) },
      { sendRateHz: this.options.sendRateHz, interpolationDelayMs: this.options.interpolationDelayMs, snapAfterGapMs: this.options.snapAfterGapMs },
    );
    this.ownedHere = isOwner;
    this.attachedNode = node;
  }

  detach(): void {
    this.registration?.dispose();
    this.registration = null;
    this.attachedNode = null;
    this.ownedHere = false;
  }
}

function readPose(node: TransformNode): Pose {
  const p = node.position;
  const q = node.rotationQuaternion ?? Quaternion.FromEulerVector(node.rotation);
  return { position: [p.x, p.y, p.z], rotation: [q.x, q.y, q.z, q.w] };
}

function applyPose(node: TransformNode, pose: Pose): void {
  node.position.set(pose.position[0], pose.position[1], pose.position[2]);
  // A rotation quaternion takes precedence over Euler `rotation` in Babylon.
  node.rotationQuaternion ??= new Quaternion();
  node.rotationQuaternion.set(pose.rotation[0], pose.rotation[1], pose.rotation[2], pose.rotation[3]);
}

function checkOptionalPositive(value: number | undefined, field: string, max: number, allowZero = false): void {
  if (value === undefined) return;
  const min = allowZero ? 0 : Number.MIN_VALUE;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new RangeError(`NetworkedTransform: ${field}: expected a number ${allowZero ? '0' : '>0'}..${max}, got ${String(value)}`);
  }
}
