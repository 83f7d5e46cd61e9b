// The broker's access model (users, vhost records, permissions, topic
// permissions, limits), persisted crash-safely in access.json. Every change bumps
// `generation`, which is how connections' grants (grant.ts) know to recompile
// their patterns and drop cached decisions: one integer compare on the hot path.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileIfExists, writeFileAtomic } from '../../store/index.js';
import { deriveScramCredentials, SCRAM_ITERATIONS_DEFAULT, type ScramHash } from '../scram-credentials.js';
import { hashPassword, isHashingAlgorithm, SHA256, verifyPassword } from './hashing.js';
import {
  type AccessFile,
  type PermissionRecord,
  type StoredScram,
  type TopicPermissionRecord,
  type UserLimitName,
  type UserRecord,
  type VhostLimitName,
  type VhostRecord,
} from './model.js';

/** A user as a `--user NAME:PASSWORD` flag or the config file gives it. */
export interface BootUser {
  readonly name: string;
  readonly password: string;
}

export const GUEST = 'guest';
/** RabbitMQ's loopback_users default: guest may only connect from the host itself. */
const LOOPBACK_USERS: ReadonlySet<string> = new Set([GUEST]);
/**
 * The user a cluster's nodes log in to each other with (docs/cluster.md, "Forwarding"): its
 * password is the cluster's secret (meta/cookie in etcd, like Erlang's cookie). It is no user
 * of the model: not listed, not exported, and without the secret (a single node) no login.
 */
export const CLUSTER_LINK_USER = 'wharf-cluster-link';
const LINK_PERMISSION = { configure: '.*', write: '.*', read: '.*' } as const;
const FULL = '.*';

export class Access {
  private readonly users = new Map<string, UserRecord>();
  private readonly vhosts = new Map<string, VhostRecord>();
  /** user -> vhost -> permission. */
  private readonly perms = new Map<string, Map<string, PermissionRecord>>();
  /** user -> vhost -> exchange -> topic permission. */
  private readonly topicPerms = new Map<string, Map<string, Map<string, TopicPermissionRecord>>>();
  /** Bumped by every change: grants compare it before trusting their caches. */
  generation = 0;
  private saving: Promise<void> = Promise.resolve();
  /**
   * In a cluster, every change goes through this (src/cluster/meta/): it runs the change,
   * writes what it changed to etcd and saves; undefined on a single node (run it and save).
   */
  committer: ((change: () => void) => Promise<void>) | undefined;
  /** Open connections per user and per vhost, and open channels per user, for the limits. */
  readonly userConnections = new Map<string, number>();
  readonly vhostConnections = new Map<string, number>();
  readonly userChannels = new Map<string, number>();

  private constructor(private readonly path: string) {}

  /**
   * Loads access.json; a data dir without one (first start, or one from before
   * the access model) gets what RabbitMQ creates on first boot: vhost `/` and
   * `guest` (administrator, full permissions on `/`), plus `existingVhosts`.
   */
  static async open(path: string, existingVhosts: readonly string[]): Promise<{ access: Access; created: boolean }> {
    const a = new Access(path);
    const raw = await readFileIfExists(path);
    if (raw) {
      a.load(JSON.parse(raw.toString('utf8')) as AccessFile);
      return { access: a, created: false };
    }
    for (const v of new Set(['/', ...existingVhosts])) a.vhosts.set(v, vhostRecord(v, { description: v === '/' ? 'Default virtual host' : '' }));
    a.users.set(GUEST, { name: GUEST, password_hash: hashPassword(GUEST), hashing_algorithm: SHA256, tags: ['administrator'], limits: {}, scram: scramFor(GUEST) });
    a.putPermission({ user: GUEST, vhost: '/', configure: FULL, write: FULL, read: FULL });
    return { access: a, created: true };
  }

  private load(f: AccessFile): void {
    for (const u of f.users) this.users.set(u.name, u);
    for (const v of f.vhosts) this.vhosts.set(v.name, v);
    for (const p of f.permissions) this.putPermission(p);
    for (const t of f.topic_permissions) this.putTopicPermission(t);
  }

  /** The whole model as access.json holds it (and a definitions export will). */
  snapshot(): AccessFile {
    const permissions: PermissionRecord[] = [];
    for (const byVhost of this.perms.values()) permissions.push(...byVhost.values());
    const topic: TopicPermissionRecord[] = [];
    for (const byVhost of this.topicPerms.values()) for (const byEx of byVhost.values()) topic.push(...byEx.values());
    return { version: 1, users: [...this.users.values()], vhosts: [...this.vhosts.values()], permissions, topic_permissions: topic };
  }

  /** Persists the model; resolves once this change (and those before it) is on disk. */
  save(): Promise<void> {
    this.generation++;
    const data = JSON.stringify(this.snapshot(), null, 1);
    // Writes are chained so an older snapshot never lands after a newer one.
    const next = this.saving.catch(() => undefined).then(() => writeFileAtomic(this.path, data));
    this.saving = next;
    return next;
  }

  /**
   * `--user NAME:PASSWORD` users at each start: created, or updated when the password
   * changed, with the administrator tag and full permissions on `/` (as RabbitMQ's
   * default user on first boot). Other changes made to them through the API stay.
   */
  applyBootUsers(users: readonly BootUser[]): boolean {
    let changed = false;
    for (const u of users) {
      const existing = this.users.get(u.name);
      if (!existing || !verifyPassword(u.password, existing.password_hash, existing.hashing_algorithm)) {
        const tags = existing ? [...new Set([...existing.tags, 'administrator'])] : ['administrator'];
        this.users.set(u.name, { name: u.name, password_hash: hashPassword(u.password), hashing_algorithm: SHA256, tags, limits: existing?.limits ?? {}, scram: scramFor(u.password) });
        changed = true;
      }
      if (!this.permission(u.name, '/') && this.vhosts.has('/')) {
        this.putPermission({ user: u.name, vhost: '/', configure: FULL, write: FULL, read: FULL });
        changed = true;
      }
    }
    return changed;
  }

  /** Runs a change to the model and persists it (in a cluster, through etcd first). */
  private change(fn: () => void): Promise<void> {
    if (this.committer !== undefined) return this.committer(fn);
    fn();
    return this.save();
  }

  /** A change from outside the model's own methods (the boot users at a cluster join): committed like the others. */
  changeWith(fn: () => void): Promise<void> {
    return this.change(fn);
  }

  // --- authentication -------------------------------------------------------

  /** The user when `password` is theirs (and, for loopback-only users, the peer is local). */
  authenticate(name: string, password: string, fromLoopback: boolean): UserRecord | undefined {
    if (name === CLUSTER_LINK_USER) return this.linkUser(password);
    const u = this.users.get(name);
    if (!u || !verifyPassword(password, u.password_hash, u.hashing_algorithm)) return undefined;
    if (LOOPBACK_USERS.has(name) && !fromLoopback) return undefined;
    return u;
  }

  // --- users ------------------------------------------------------------------

  user(name: string): UserRecord | undefined {
    return this.users.get(name);
  }

  userList(): UserRecord[] {
    return [...this.users.values()];
  }

  /** Creates or replaces a user; `password` is hashed here and forgotten. Limits survive a replace. */
  putUser(name: string, o: { password?: string; passwordHash?: string; hashingAlgorithm?: string; tags: readonly string[] }): Promise<void> {
    const algorithm = o.hashingAlgorithm ?? SHA256;
    if (!isHashingAlgorithm(algorithm)) throw new Error(`unknown hashing algorithm '${algorithm}'`);
    const hash = o.password !== undefined ? hashPassword(o.password, algorithm) : (o.passwordHash ?? '');
    const derived = o.password !== undefined ? scramFor(o.password) : undefined;
    return this.change(() => {
      const old = this.users.get(name);
      const limits = old?.limits ?? {};
      // SCRAM needs the password: derived now, or kept when the same hash comes back (a tags-only update).
      const scram = derived ?? (old?.password_hash === hash ? old.scram : undefined);
      this.users.set(name, { name, password_hash: hash, hashing_algorithm: algorithm, tags: [...o.tags], limits, ...(scram ? { scram } : {}) });
    });
  }

  deleteUsers(names: readonly string[]): Promise<void> {
    return this.change(() => {
      for (const n of names) {
        this.users.delete(n);
        this.perms.delete(n);
        this.topicPerms.delete(n);
      }
    });
  }

  setUserLimit(name: string, limit: UserLimitName, value: number | undefined): Promise<void> {
    if (!this.users.has(name)) return Promise.resolve();
    return this.change(() => {
      const u = this.users.get(name);
      if (!u) return;
      const limits = { ...u.limits };
      if (value === undefined) delete limits[limit];
      else limits[limit] = value;
      this.users.set(name, { ...u, limits });
    });
  }

  // --- vhosts -----------------------------------------------------------------

  vhost(name: string): VhostRecord | undefined {
    return this.vhosts.get(name);
  }

  vhostList(): VhostRecord[] {
    return [...this.vhosts.values()];
  }

  /** Records a vhost (the broker creates its topology); an update replaces its metadata (as RabbitMQ's PUT) and keeps its limits. */
  putVhost(name: string, o: { description?: string; tags?: readonly string[]; defaultQueueType?: string }): Promise<void> {
    return this.change(() => {
      const old = this.vhosts.get(name);
      this.vhosts.set(
        name,
        vhostRecord(name, { description: o.description, tags: o.tags, defaultQueueType: o.defaultQueueType, limits: old?.limits }),
      );
    });
  }

  /** Forgets a vhost with its permissions, topic permissions and limits. */
  deleteVhost(name: string): Promise<void> {
    return this.change(() => this.forgetVhost(name));
  }

  private forgetVhost(name: string): void {
    this.vhosts.delete(name);
    for (const byVhost of this.perms.values()) byVhost.delete(name);
    for (const byVhost of this.topicPerms.values()) byVhost.delete(name);
  }

  setVhostLimit(name: string, limit: VhostLimitName, value: number | undefined): Promise<void> {
    if (!this.vhosts.has(name)) return Promise.resolve();
    return this.change(() => {
      const v = this.vhosts.get(name);
      if (!v) return;
      const limits = { ...v.limits };
      if (value === undefined) delete limits[limit];
      else limits[limit] = value;
      this.vhosts.set(name, { ...v, limits });
    });
  }

  // --- permissions --------------------------------------------------------------

  /** The cluster's secret, in a cluster: what the link user's password must be. */
  clusterSecret: string | undefined;

  private linkUser(password: string): UserRecord | undefined {
    const secret = this.clusterSecret;
    if (secret === undefined) return undefined;
    const a = Buffer.from(password);
    const b = Buffer.from(secret);
    if (a.length !== b.length || !timingSafeEqual(a, b)) return undefined;
    return { name: CLUSTER_LINK_USER, password_hash: '', hashing_algorithm: SHA256, tags: [], limits: {} };
  }

  permission(user: string, vhost: string): PermissionRecord | undefined {
    if (user === CLUSTER_LINK_USER && this.clusterSecret !== undefined && this.vhosts.has(vhost)) return { user, vhost, ...LINK_PERMISSION };
    return this.perms.get(user)?.get(vhost);
  }

  permissionList(): PermissionRecord[] {
    return this.snapshot().permissions;
  }

  setPermission(p: PermissionRecord): Promise<void> {
    return this.change(() => this.putPermission(p));
  }

  clearPermission(user: string, vhost: string): Promise<void> {
    return this.change(() => void this.perms.get(user)?.delete(vhost));
  }

  private putPermission(p: PermissionRecord): void {
    let byVhost = this.perms.get(p.user);
    if (!byVhost) this.perms.set(p.user, (byVhost = new Map()));
    byVhost.set(p.vhost, { user: p.user, vhost: p.vhost, configure: p.configure, write: p.write, read: p.read });
  }

  /** Topic permissions of a user in a vhost, by exchange. */
  topicPermissions(user: string, vhost: string): ReadonlyMap<string, TopicPermissionRecord> | undefined {
    return this.topicPerms.get(user)?.get(vhost);
  }

  topicPermissionList(): TopicPermissionRecord[] {
    return this.snapshot().topic_permissions;
  }

  setTopicPermission(t: TopicPermissionRecord): Promise<void> {
    return this.change(() => this.putTopicPermission(t));
  }

  /** One exchange's topic permission, or (no exchange) all of the user's in the vhost. */
  clearTopicPermissions(user: string, vhost: string, exchange?: string): Promise<void> {
    return this.change(() => {
      const byVhost = this.topicPerms.get(user);
      if (exchange === undefined) byVhost?.delete(vhost);
      else byVhost?.get(vhost)?.delete(exchange);
      if (byVhost?.get(vhost)?.size === 0) byVhost.delete(vhost);
    });
  }

  // --- records: one per object, for a cluster's etcd (docs/cluster.md, "Metadata") ------

  /** Every object as a record: key (metadataKey) -> JSON. */
  records(): Map<string, string> {
    const out = new Map<string, string>();
    const snap = this.snapshot();
    for (const u of snap.users) out.set(metadataKey('users', u.name), JSON.stringify(u));
    for (const v of snap.vhosts) out.set(metadataKey('vhosts', v.name), JSON.stringify(v));
    for (const p of snap.permissions) out.set(metadataKey('permissions', p.user, p.vhost), JSON.stringify(p));
    for (const t of snap.topic_permissions) out.set(metadataKey('topic-permissions', t.user, t.vhost, t.exchange), JSON.stringify(t));
    return out;
  }

  /**
   * Applies one record as another node wrote it (value undefined: deleted), without
   * committing it anywhere; the caller saves. False for a key this version cannot read.
   */
  applyRecord(key: string, value: string | undefined): boolean {
    const parts = parseMetadataKey(key);
    if (parts === undefined) return false;
    const [kind, ...names] = parts;
    const rec = value === undefined ? undefined : (JSON.parse(value) as unknown);
    switch (kind) {
      case 'users':
        if (rec === undefined) this.users.delete(names[0]);
        else this.users.set(names[0], rec as UserRecord);
        return names.length === 1;
      case 'vhosts':
        if (rec === undefined) this.vhosts.delete(names[0]);
        else this.vhosts.set(names[0], rec as VhostRecord);
        return names.length === 1;
      case 'permissions':
        if (names.length !== 2) return false;
        if (rec === undefined) this.perms.get(names[0])?.delete(names[1]);
        else this.putPermission(rec as PermissionRecord);
        return true;
      case 'topic-permissions':
        if (names.length !== 3) return false;
        if (rec === undefined) this.topicPerms.get(names[0])?.get(names[1])?.delete(names[2]);
        else this.putTopicPermission(rec as TopicPermissionRecord);
        return true;
      default:
        return false;
    }
  }

  private putTopicPermission(t: TopicPermissionRecord): void {
    let byVhost = this.topicPerms.get(t.user);
    if (!byVhost) this.topicPerms.set(t.user, (byVhost = new Map()));
    let byEx = byVhost.get(t.vhost);
    if (!byEx) byVhost.set(t.vhost, (byEx = new Map()));
    byEx.set(t.exchange, { user: t.user, vhost: t.vhost, exchange: t.exchange, write: t.write, read: t.read });
  }
}

type RecordKind = 'users' | 'vhosts' | 'permissions' | 'topic-permissions';

/** `users/<name>`, `permissions/<user>/<vhost>`...: names percent-encoded, so a '/' in one cannot alias another key. */
function metadataKey(kind: RecordKind, ...names: string[]): string {
  return [kind, ...names.map(encodeURIComponent)].join('/');
}

function parseMetadataKey(key: string): [string, ...string[]] | undefined {
  const [kind, ...rest] = key.split('/');
  try {
    return [kind, ...rest.map(decodeURIComponent)];
  } catch {
    return undefined;
  }
}

function vhostRecord(
  name: string,
  o: { description?: string; tags?: readonly string[]; defaultQueueType?: string | undefined; limits?: VhostRecord['limits'] | undefined },
): VhostRecord {
  return { name, description: o.description ?? '', tags: [...(o.tags ?? [])], default_queue_type: o.defaultQueueType ?? 'undefined', limits: o.limits ?? {} };
}

/** SCRAM-SHA-256 and -512 credentials for a password (Kafka's 4096 iterations, a random salt each). */
function scramFor(password: string): Partial<Record<ScramHash, StoredScram>> {
  const out: Partial<Record<ScramHash, StoredScram>> = {};
  for (const hash of ['SHA-256', 'SHA-512'] as const) {
    const c = deriveScramCredentials(password, hash, randomBytes(32), SCRAM_ITERATIONS_DEFAULT);
    out[hash] = { salt: c.salt.toString('base64'), iterations: c.iterations, storedKey: c.storedKey.toString('base64'), serverKey: c.serverKey.toString('base64') };
  }
  return out;
}
