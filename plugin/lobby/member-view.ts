/**
 * One client's view of a lobby's members, kept in step with snapshots of the server's state:
 * `apply(snapshot)` returns the events that turn the old view into the new one. Diffing whole
 * snapshots makes the result independent of how the transport batched or reordered changes,
 * and a reconnect (a fresh full state) yields exactly what changed while we were away.
 */
import { copyMember, type LobbyMember } from './lobby-adapter';

export type MemberSnapshot = Map<string, ReadonlyMap<string, string>>;

export interface MemberEvent {
  kind: 'join' | 'update' | 'leave';
  member: LobbyMember;
}

export class MemberView {
  private readonly members: MemberSnapshot = new Map();

  constructor(private selfId: string) {}

  /** This member rejoined under a new id: its entry moves, so the rejoin is no join or leave of its own. */
  renameSelf(newId: string): void {
    const own = this.members.get(this.selfId);
    this.members.delete(this.selfId);
    this.selfId = newId;
    if (own !== undefined) this.members.set(newId, own);
  }

  /**
   * Replaces the view with `snapshot`. Events: leaves first (so a peer id that moved to a new
   * member is released before it is claimed again), then joins, then updates. This member never
   * joins or leaves in events; its own metadata changes come as updates.
   */
  apply(snapshot: MemberSnapshot): MemberEvent[] {
    const events: MemberEvent[] = [];
    for (const [id, metadata] of this.members) {
      if (snapshot.has(id)) continue;
      this.members.delete(id);
      if (id !== this.selfId) events.push({ kind: 'leave', member: copyMember(id, metadata) });
    }
    const updates: MemberEvent[] = [];
    for (const [id, metadata] of snapshot) {
      const known = this.members.get(id);
      if (known !== undefined && sameMetadata(known, metadata)) continue;
      this.members.set(id, new Map(metadata));
      if (known === undefined) {
        if (id !== this.selfId) events.push({ kind: 'join', member: copyMember(id, metadata) });
      } else {
        updates.push({ kind: 'update', member: copyMember(id, metadata) });
      }
    }
    return events.concat(updates);
  }

  get(id: string): ReadonlyMap<string, string> | undefined {
    return this.members.get(id);
  }

  list(): LobbyMember[] {
    return [...this.members].map(([id, metadata]) => copyMember(id, metadata));
  }

  clear(): void {
    this.members.clear();
  }
}

export function sameMetadata(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [key, value] of a) {
    if (b.get(key) !== value) return false;
  }
  return true;
}
