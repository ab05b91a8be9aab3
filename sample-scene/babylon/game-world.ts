/**
 * The session's players and loot as Babylon nodes. Every player's avatar is a node carrying a
 * NetworkedTransform (entity AVATAR_ENTITY_ID, owned by that player): ours is sent, the others'
 * are replicas. With `visual: false` (headless bots) avatars are bare TransformNodes and loot has
 * no mesh; with `visual: true` they get coloured meshes (the page adds labels and the stage).
 */
import { StandardMaterial } from '@babylonjs/core/Materials/standardMaterial.js';
import { Color3 } from '@babylonjs/core/Maths/math.color.js';
import { Vector3 } from '@babylonjs/core/Maths/math.vector.js';
import { CreateBox } from '@babylonjs/core/Meshes/Builders/boxBuilder.js';
import { CreateCapsule } from '@babylonjs/core/Meshes/Builders/capsuleBuilder.js';
import { CreatePolyhedron } from '@babylonjs/core/Meshes/Builders/polyhedronBuilder.js';
import type { Mesh } from '@babylonjs/core/Meshes/mesh.js';
import type { Observer } from '@babylonjs/core/Misc/observable.js';
import { TransformNode } from '@babylonjs/core/Meshes/transformNode.js';
import type { Scene } from '@babylonjs/core/scene.js';
import type { Subscription } from 'rxjs';
import { NetworkedTransform } from 'switchboard';
import type { PeerId } from 'switchboard';
import { AVATAR_ENTITY_ID } from '../game/constants';
import type { LootItem, LootKey } from '../game/loot-book';
import { groupIntoPiles, type LootPile } from '../game/loot-piles';
import type { MoveStep, Planar } from '../game/movement';
import { LOOT_COLOUR, spawnPointFor } from '../game/peer-look';
import type { GameSession, Player, SessionEvent } from '../session/game-session';

/** Height of an avatar's centre above the ground. */
const AVATAR_Y = 0.8;
const LOOT_Y = 0.4;
/** Items of one pile are drawn stacked this far apart, at most this many levels high. */
const PILE_STEP_Y = 0.3;
const PILE_MAX_LEVELS = 4;
/**
 * A replica waits at this height, disabled, until its owner's first snapshot places it: a peer
 * that never sends (a page that died but still holds its lobby seat) is never drawn. Owners
 * always send AVATAR_Y, so any other height means "placed by the network".
 */
const UNPLACED_Y = -1000;

export interface GameWorldOptions {
  /** Build meshes and materials (browser) or only transform nodes (headless). */
  visual: boolean;
}

export interface AvatarView {
  readonly player: Player;
  readonly node: TransformNode;
  readonly body: Mesh | null;
  /** Ours always; a replica once its first transform arrived (before that it is not drawn). */
  readonly placed: boolean;
}

export interface LootView {
  readonly item: LootItem;
  readonly mesh: Mesh | null;
}

export interface AvatarPosition {
  peerId: string;
  label: string;
  isSelf: boolean;
  x: number;
  z: number;
}

export class GameWorld {
  private readonly avatars = new Map<PeerId, AvatarView>();
  private readonly lootViews = new Map<LootKey, LootView>();
  private readonly subscription: Subscription;
  private readonly beforeRender: Observer<Scene>;
  private lootMaterial: StandardMaterial | null = null;
  private piles: LootPile[] = [];
  private pilesStale = false;
  private readonly local: AvatarView;
  private yaw = 0;

  constructor(
    readonly scene: Scene,
    readonly session: GameSession,
    private readonly options: GameWorldOptions,
  ) {
    for (const player of session.players()) this.addAvatar(player);
    this.local = this.avatars.get(session.self)!;
    const spawn = spawnPointFor(session.self);
    this.local.node.position.set(spawn.x, AVATAR_Y, spawn.z);
    this.yaw = Math.atan2(-spawn.x, -spawn.z); // face the centre
    this.local.node.rotation.y = this.yaw;
    for (const item of session.loot.items()) this.addLoot(item);
    this.subscription = session.events$.subscribe((event) => this.onEvent(event));
    this.beforeRender = scene.onBeforeRenderObservable.add(() => {
      this.revealPlaced();
      this.lootPiles();
    });
  }

  /** Where our player stands. */
  localPosition(): Planar {
    return { x: this.local.node.position.x, z: this.local.node.position.z };
  }

  localYaw(): number {
    return this.yaw;
  }

  /** Applies a movement step to our avatar (NetworkedTransform sends it at the end of the frame). */
  moveLocal(step: MoveStep): void {
    this.local.node.position.set(step.position.x, AVATAR_Y, step.position.z);
    if (step.yaw !== null) {
      this.yaw = step.yaw;
      this.local.node.rotation.y = step.yaw;
    }
  }

  avatar(peerId: PeerId): AvatarView | undefined {
    return this.avatars.get(peerId);
  }

  avatarViews(): AvatarView[] {
    return [...this.avatars.values()];
  }

  lootView(key: LootKey): LootView | undefined {
    return this.lootViews.get(key);
  }

  lootViewList(): LootView[] {
    return [...this.lootViews.values()];
  }

  /** Loot on the ground grouped by place (loot-piles.ts); a pile's meshes are drawn stacked. */
  lootPiles(): readonly LootPile[] {
    if (this.pilesStale) {
      this.pilesStale = false;
      this.piles = groupIntoPiles([...this.lootViews.values()].map((view) => view.item));
      for (const pile of this.piles) {
        pile.keys.forEach((key, level) => {
          const mesh = this.lootViews.get(key)?.mesh;
          if (mesh) mesh.position.y = LOOT_Y + Math.min(level, PILE_MAX_LEVELS - 1) * PILE_STEP_Y;
        });
      }
    }
    return this.piles;
  }

  /** Avatars drawn: ours and every replica already placed by its owner's snapshot. */
  placedAvatarViews(): AvatarView[] {
    this.revealPlaced();
    return this.avatarViews().filter((view) => view.placed);
  }

  /** Every drawn avatar's position here (replicas: interpolated), ours first. */
  positions(): AvatarPosition[] {
    return this.placedAvatarViews().map(({ player, node }) => ({
      peerId: player.peerId.toString(),
      label: player.label,
      isSelf: player.isSelf,
      x: node.position.x,
      z: node.position.z,
    }));
  }

  /** Removes every node this world made. Idempotent; the scene and session stay. */
  dispose(): void {
    this.subscription.unsubscribe();
    this.scene.onBeforeRenderObservable.remove(this.beforeRender);
    for (const peerId of [...this.avatars.keys()]) this.removeAvatar(peerId);
    for (const key of [...this.lootViews.keys()]) this.removeLoot(key);
    this.lootMaterial?.dispose();
    this.lootMaterial = null;
  }

  /** Enables the replicas whose first snapshot has arrived; runs before every render. */
  private revealPlaced(): void {
    for (const [peerId, view] of this.avatars) {
      if (view.placed || view.node.position.y === UNPLACED_Y) continue;
      this.avatars.set(peerId, { ...view, placed: true });
      view.node.setEnabled(true);
    }
  }

  private onEvent(event: SessionEvent): void {
    switch (event.kind) {
      case 'player-joined':
        this.addAvatar(event.player);
        break;
      case 'player-left':
        this.removeAvatar(event.player.peerId);
        break;
      case 'player-state':
        this.showState(event.player);
        break;
      case 'appeared':
        this.addLoot(event.item);
        break;
      case 'claimed':
        if (this.lootViews.get(event.item.key)?.mesh) this.lootViews.get(event.item.key)!.mesh!.visibility = 0.35;
        break;
      case 'taken':
        this.removeLoot(event.pickup.key);
        break;
      case 'vanished':
        this.removeLoot(event.item.key);
        break;
    }
  }

  private addAvatar(player: Player): void {
    if (this.avatars.has(player.peerId)) return;
    const name = `avatar ${player.label}`;
    const node = new TransformNode(name, this.scene);
    const spawn = spawnPointFor(player.peerId);
    // Ours starts at its spawn point; a replica is hidden until its first snapshot places it.
    node.position.set(spawn.x, player.isSelf ? AVATAR_Y : UNPLACED_Y, spawn.z);
    node.setEnabled(player.isSelf);
    let body: Mesh | null = null;
    if (this.options.visual) {
      const material = new StandardMaterial(`${name} material`, this.scene);
      material.diffuseColor = new Color3(player.colour.r, player.colour.g, player.colour.b);
      material.specularColor = new Color3(0.15, 0.15, 0.15);
      body = CreateCapsule(`${name} body`, { height: 1.6, radius: 0.45, tessellation: 16, subdivisions: 2 }, this.scene);
      body.material = material;
      body.parent = node;
      // A nose shows which way the avatar faces (+z of the node).
      const nose = CreateBox(`${name} nose`, { width: 0.25, height: 0.2, depth: 0.35 }, this.scene);
      nose.material = material;
      nose.position = new Vector3(0, 0.35, 0.45);
      nose.parent = body;
    }
    node.addBehavior(new NetworkedTransform({ entityId: AVATAR_ENTITY_ID, owner: player.peerId }));
    this.avatars.set(player.peerId, { player, node, body, placed: player.isSelf });
    this.showState(player);
  }

  private removeAvatar(peerId: PeerId): void {
    const view = this.avatars.get(peerId);
    if (!view || view.player.isSelf) return;
    this.avatars.delete(peerId);
    // Disposing the node detaches its NetworkedTransform (and disposes the child meshes).
    view.body?.material?.dispose();
    view.node.dispose();
  }

  private showState(player: Player): void {
    const body = this.avatars.get(player.peerId)?.body;
    if (body) body.visibility = player.state === 'connected' ? 1 : 0.4;
  }

  private addLoot(item: LootItem): void {
    if (this.lootViews.has(item.key)) return;
    let mesh: Mesh | null = null;
    if (this.options.visual) {
      mesh = CreatePolyhedron(`loot ${item.key}`, { type: 1, size: 0.35 }, this.scene);
      mesh.position.set(item.x, LOOT_Y, item.z);
      mesh.material = this.lootMaterialOf();
      if (item.state === 'claim-pending') mesh.visibility = 0.35;
    }
    this.lootViews.set(item.key, { item, mesh });
    this.pilesStale = true;
  }

  private removeLoot(key: LootKey): void {
    const view = this.lootViews.get(key);
    if (!view) return;
    this.lootViews.delete(key);
    this.pilesStale = true;
    view.mesh?.dispose();
  }

  private lootMaterialOf(): StandardMaterial {
    if (!this.lootMaterial) {
      this.lootMaterial = new StandardMaterial('loot material', this.scene);
      this.lootMaterial.diffuseColor = new Color3(LOOT_COLOUR.r, LOOT_COLOUR.g, LOOT_COLOUR.b);
      // A glow of the same hue, so the gold players are kept away from is the gold drawn.
      this.lootMaterial.emissiveColor = new Color3(LOOT_COLOUR.r * 0.4, LOOT_COLOUR.g * 0.4, LOOT_COLOUR.b * 0.4);
    }
    return this.lootMaterial;
  }
}
