/**
 * A lobby inside one process: a MemoryLobbyHub holds the members; each `hub.join()` gives that
 * member's MemoryLobby. Same rules and same event semantics as the Colyseus lobby (events arrive
 * asynchronously, in order; each adapter's members() matches the events it emitted), so game code
 * and tests can swap one for the other.
 */
import { Observable, Subject } from 'rxjs';
import { copyMember, LobbyError, type LobbyAdapter, type LobbyMember } from './lobby-adapter';
import {
  checkMetadataUpdate,
  describeNameRule,
  isValidName,
  peerIdClaimant,
  resolveMetadataLimits,
  type LobbyMetadataLimits,
  type MetadataRefusal,
} from './metadata-rules';

export interface MemoryLobbyHubOptions {
  /** Members at most (default 64); a join past it fails with LobbyError `full`. */
  capacity?: number;
  limits?: Partial<LobbyMetadataLimits>;
}

export interface MemoryLobbyHubStats {
  members: number;
  joinsRefused: number;
  updatesAccepted: number;
  updatesRefused: Partial<Record<MetadataRefusal | 'peer_id_taken', number>>;
}

type Delivery = () => void;

/** Deliveries run per microtask batch at most; the rest continue in a later task, so a feedback loop cannot hang the process. */
const MAX_DELIVERIES_PER_BATCH = 10_000;
/** Deliveries waiting at most; past it an update is refused as `busy` (someone writes in a loop without awaiting). */
const MAX_QUEUED_DELIVERIES = 100_000;

export class MemoryLobbyHub {
  readonly capacity: number;
  readonly limits: LobbyMetadataLimits;

  private readonly members = new Map<string, { metadata: Map<string, string>; lobby: MemoryLobby }>();
  private readonly queue: Delivery[] = [];
  private drained: Promise<void> | null = null;
  private resolveDrained: (() => void) | null = null;
  private continuation: ReturnType<typeof setTimeout> | null = null;
  private nextMemberNumber = 1;
  private readonly counters = { joinsRefused: 0, updatesAccepted: 0 };
  private readonly refusals: Partial<Record<MetadataRefusal | 'peer_id_taken', number>> = {};

  constructor(options: MemoryLobbyHubOptions = {}) {
    const capacity = options.capacity ?? 64;
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new TypeError(`MemoryLobbyHub: capacity must be a positive integer, got ${String(capacity)}`);
    }
    this.capacity = capacity;
    this.limits = resolveMetadataLimits(options.limits);
  }

  /**
   * Joins a new member (id generated as m1, m2, … when absent). Throws a LobbyError: `full` at
   * capacity, `invalid_name` for a malformed or already present id.
   */
  join(memberId?: string): MemoryLobby {
    const id = memberId ?? this.generateId();
    if (!isValidName(id)) {
      this.counters.joinsRefused++;
      throw new LobbyError('invalid_name', `member id must be ${describeNameRule()}`);
    }
    if (this.members.has(id)) {
      this.counters.joinsRefused++;
      throw new LobbyError('invalid_name', `member id "${id}" is already in the lobby`);
    }
    if (this.members.size >= this.capacity) {
      this.counters.joinsRefused++;
      throw new LobbyError('full', `lobby is full (capacity ${this.capacity})`);
    }
    const snapshot = new Map<string, ReadonlyMap<string, string>>();
    for (const [otherId, other] of this.members) snapshot.set(otherId, new Map(other.metadata));
    snapshot.set(id, new Map());
    const lobby = new MemoryLobby(this, id, snapshot);
    const joined = copyMember(id, new Map());
    for (const other of this.members.values()) {
      const target = other.lobby;
      this.queue.push(() => target.deliver('join', joined));
    }
    this.members.set(id, { metadata: new Map(), lobby });
    this.scheduleDrain();
    return lobby;
  }

  stats(): MemoryLobbyHubStats {
    return { members: this.members.size, ...this.counters, updatesRefused: { ...this.refusals } };
  }

  /** @internal MemoryLobby calls this; resolves once every member has seen the change. */
  update(memberId: string, entries: unknown): Promise<void> {
    const member = this.members.get(memberId);
    if (member === undefined) return Promise.reject(new LobbyError('closed', 'the lobby was left'));
    if (this.queue.length >= MAX_QUEUED_DELIVERIES) {
      return Promise.reject(new LobbyError('busy', `${MAX_QUEUED_DELIVERIES} lobby events are already waiting to be delivered`));
    }
    const verdict = checkMetadataUpdate(member.metadata, entries, this.limits);
    if (!verdict.ok) {
      this.refusals[verdict.refusal] = (this.refusals[verdict.refusal] ?? 0) + 1;
      return Promise.reject(new LobbyError('invalid_metadata', verdict.error));
    }
    const claimant = peerIdClaimant(memberId, verdict.entries, [...this.members].map(([id, other]) => [id, other.metadata] as const));
    if (claimant !== null) {
      this.refusals.peer_id_taken = (this.refusals.peer_id_taken ?? 0) + 1;
      return Promise.reject(new LobbyError('peer_id_taken', 'this peer_id is already published by another member of this lobby'));
    }
    for (const [key, value] of verdict.entries) member.metadata.set(key, value);
    this.counters.updatesAccepted++;
    const updated = copyMember(memberId, member.metadata);
    for (const { lobby } of this.members.values()) this.queue.push(() => lobby.deliver('update', updated));
    return this.scheduleDrain();
  }

  /** @internal */
  remove(memberId: string): Promise<void> {
    const member = this.members.get(memberId);
    if (member === undefined) return Promise.resolve();
    this.members.delete(memberId);
    const left = copyMember(memberId, member.metadata);
    for (const { lobby } of this.members.values()) this.queue.push(() => lobby.deliver('leave', left));
    return this.scheduleDrain();
  }

  private generateId(): string {
    let id = `m${this.nextMemberNumber++}`;
    while (this.members.has(id)) id = `m${this.nextMemberNumber++}`;
    return id;
  }

  private scheduleDrain(): Promise<void> {
    if (this.drained === null) {
      this.drained = new Promise<void>((resolve) => (this.resolveDrained = resolve));
      if (this.continuation === null) queueMicrotask(() => this.drain());
    }
    return this.drained;
  }

  private drain(): void {
    let delivered = 0;
    while (this.queue.length > 0) {
      if (delivered++ >= MAX_DELIVERIES_PER_BATCH) {
        this.continuation = setTimeout(() => {
          this.continuation = null;
          this.drain();
        }, 0);
        return;
      }
      const delivery = this.queue.shift() as Delivery;
      delivery();
    }
    const resolve = this.resolveDrained;
    this.drained = null;
    this.resolveDrained = null;
    resolve?.();
  }
}

export class MemoryLobby implements LobbyAdapter {
  readonly selfId: string;
  readonly memberJoin$: Observable<LobbyMember>;
  readonly memberUpdate$: Observable<LobbyMember>;
  readonly memberLeave$: Observable<LobbyMember>;

  private readonly joinSubject = new Subject<LobbyMember>();
  private readonly updateSubject = new Subject<LobbyMember>();
  private readonly leaveSubject = new Subject<LobbyMember>();
  /** This member's view: changes only when an event is delivered, like a remote client's. */
  private readonly view: Map<string, ReadonlyMap<string, string>>;
  private closed = false;

  /** @internal Use MemoryLobbyHub.join(). */
  constructor(
    private readonly hub: MemoryLobbyHub,
    selfId: string,
    snapshot: Map<string, ReadonlyMap<string, string>>,
  ) {
    this.selfId = selfId;
    this.view = snapshot;
    this.memberJoin$ = this.joinSubject.asObservable();
    this.memberUpdate$ = this.updateSubject.asObservable();
    this.memberLeave$ = this.leaveSubject.asObservable();
  }

  members(): LobbyMember[] {
    return [...this.view].map(([id, metadata]) => copyMember(id, metadata));
  }

  setMemberMetadata(entries: Record<string, string>): Promise<void> {
    if (this.closed) return Promise.reject(new LobbyError('closed', 'the lobby was left'));
    return this.hub.update(this.selfId, entries);
  }

  async leave(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.view.clear();
    this.joinSubject.complete();
    this.updateSubject.complete();
    this.leaveSubject.complete();
    await this.hub.remove(this.selfId);
  }

  /** @internal The hub delivers events here, one at a time, in the order they happened. */
  deliver(kind: 'join' | 'update' | 'leave', member: LobbyMember): void {
    if (this.closed) return;
    if (kind === 'leave') {
      if (!this.view.delete(member.id)) return;
      this.leaveSubject.next(copyMember(member.id, member.metadata));
      return;
    }
    const known = this.view.has(member.id);
    this.view.set(member.id, new Map(member.metadata));
    const event = copyMember(member.id, member.metadata);
    if (kind === 'join' && !known) this.joinSubject.next(event);
    else this.updateSubject.next(event);
  }
}
