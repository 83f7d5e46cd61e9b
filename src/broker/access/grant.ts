// What one authenticated connection may do in its vhost: RabbitMQ's
// configure/write/read checks per operation (https://www.rabbitmq.com/access-control.html,
// "How Permissions Work") and topic permissions. Every protocol adapter calls the
// operation-named methods below before the broker call they guard, so the rules
// live here once. Patterns are compiled once per grant and each decision is cached
// per resource, so a publish costs one integer compare and one Map lookup.

import { BrokerError, accessRefused } from '../errors.js';
import type { Access } from './access.js';

type Perm = 'configure' | 'write' | 'read';
type ResourceKind = 'queue' | 'exchange';

/** Topic-permission decisions cached per grant before the cache starts over. */
const TOPIC_CACHE_MAX = 4096;

/** A compiled pattern: RabbitMQ treats "" as matching nothing, and ".*" as everything. */
type Matcher = RegExp | boolean;

interface Compiled {
  readonly configure: Matcher;
  readonly write: Matcher;
  readonly read: Matcher;
  /** exchange -> compiled write/read routing-key patterns (variables expanded). */
  readonly topics: ReadonlyMap<string, { readonly write: Matcher; readonly read: Matcher }>;
}

/** The identity a connection acts as: the user and the variables topic patterns may use. */
export interface Identity {
  readonly user: string;
  readonly vhost: string;
  /** MQTT's client id; "" for AMQP (RabbitMQ leaves {client_id} unexpanded there, matching nothing useful). */
  readonly clientId: string;
}

export class AccessGrant {
  private generation = -1;
  private compiled!: Compiled;
  private readonly decisions = new Map<string, boolean>();
  /** Exchanges this connection may publish to (the hot path's own cache, keyed by the bare name). */
  private readonly publishable = new Map<string, boolean>();
  private readonly topicDecisions = new Map<string, boolean>();
  private channels = 0;
  private released = false;

  constructor(
    private readonly access: Access,
    readonly identity: Identity,
  ) {
    this.refresh();
  }

  get user(): string {
    return this.identity.user;
  }

  get vhost(): string {
    return this.identity.vhost;
  }

  // --- RabbitMQ's table: one method per operation ------------------------------

  /**
   * exchange.declare: nothing when passive; configure, and for a new exchange with an
   * alternate exchange read on this one and write on that one (RabbitMQ's order).
   */
  exchangeDeclare(name: string, passive: boolean, alternateExchange: unknown, exists: boolean): void {
    if (passive) return;
    this.check('configure', 'exchange', name);
    if (typeof alternateExchange === 'string' && !exists) {
      this.check('read', 'exchange', name);
      this.check('write', 'exchange', exchangeResource(alternateExchange));
    }
  }

  exchangeDelete(name: string): void {
    this.check('configure', 'exchange', name);
  }

  /**
   * queue.declare: nothing when passive; configure (on the generated name for a
   * server-named queue); with a dead-letter exchange, read on the queue and write on
   * the exchange (RabbitMQ's order).
   */
  queueDeclare(name: string, passive: boolean, deadLetterExchange: unknown): void {
    if (passive) return;
    this.check('configure', 'queue', name);
    if (typeof deadLetterExchange === 'string') {
      this.check('read', 'queue', name);
      this.check('write', 'exchange', exchangeResource(deadLetterExchange));
    }
  }

  queueDelete(name: string): void {
    this.check('configure', 'queue', name);
  }

  /** queue.bind / queue.unbind: write on the queue, read on the exchange (and topic read on a topic exchange). */
  queueBind(queue: string, exchange: string, routingKey: string, topic: boolean): void {
    this.check('write', 'queue', queue);
    this.check('read', 'exchange', exchangeResource(exchange));
    if (topic) this.checkTopic('read', exchange, routingKey);
  }

  /** exchange.bind / exchange.unbind: write on the destination, read on the source (and topic read on a topic source). */
  exchangeBind(destination: string, source: string, routingKey: string, topic: boolean): void {
    this.check('write', 'exchange', exchangeResource(destination));
    this.check('read', 'exchange', exchangeResource(source));
    if (topic) this.checkTopic('read', source, routingKey);
  }

  /** basic.publish: write on the exchange ("amq.default" for ""), and topic write on a topic exchange. */
  publish(exchange: string, routingKey: string, isTopic: () => boolean): void {
    if (this.generation !== this.access.generation) this.refresh();
    if (this.publishable.get(exchange) !== true) {
      this.check('write', 'exchange', exchangeResource(exchange));
      this.publishable.set(exchange, true);
    }
    if (this.compiled.topics.size > 0 && isTopic()) this.checkTopic('write', exchange, routingKey);
  }

  /** basic.consume, basic.get and queue.purge: read on the queue. */
  consume(queue: string): void {
    this.check('read', 'queue', queue);
  }

  get(queue: string): void {
    this.check('read', 'queue', queue);
  }

  purge(queue: string): void {
    this.check('read', 'queue', queue);
  }

  // --- limits -------------------------------------------------------------------

  /** A channel is opening: the user's max-channels counts every connection of theirs. */
  channelOpened(): void {
    const limit = this.access.user(this.user)?.limits['max-channels'];
    const open = this.access.userChannels.get(this.user) ?? 0;
    if (limit !== undefined && limit >= 0 && open >= limit) {
      throw new BrokerError(
        'not-allowed',
        `number of channels opened for user '${this.user}' has reached the maximum allowed user limit of (${limit})`,
        true,
      );
    }
    this.channels++;
    this.access.userChannels.set(this.user, open + 1);
  }

  channelClosed(): void {
    if (this.channels === 0) return;
    this.channels--;
    this.access.userChannels.set(this.user, (this.access.userChannels.get(this.user) ?? 1) - 1);
  }

  /** The connection is gone: its channels and itself stop counting against the limits. */
  release(): void {
    if (this.released) return;
    this.released = true;
    while (this.channels > 0) this.channelClosed();
    decrement(this.access.userConnections, this.user);
    decrement(this.access.vhostConnections, this.vhost);
  }

  // --- checks ---------------------------------------------------------------------

  private check(perm: Perm, kind: ResourceKind, name: string): void {
    if (this.generation !== this.access.generation) this.refresh();
    const cacheKey = `${perm}\u0000${kind}\u0000${name}`;
    let ok = this.decisions.get(cacheKey);
    if (ok === undefined) {
      ok = matches(this.compiled[perm], name);
      this.decisions.set(cacheKey, ok);
    }
    if (!ok) throw accessRefused(`access to ${kind} '${name}' in vhost '${this.vhost}' refused for user '${this.user}'`);
  }

  /** RabbitMQ: a topic exchange without a topic permission for the user is open to every routing key. */
  private checkTopic(perm: 'write' | 'read', exchange: string, routingKey: string): void {
    if (this.generation !== this.access.generation) this.refresh();
    const t = this.compiled.topics.get(exchange);
    if (!t) return;
    const key = `${perm}\u0000${exchange}\u0000${routingKey}`;
    let ok = this.topicDecisions.get(key);
    if (ok === undefined) {
      ok = matches(t[perm], routingKey);
      if (this.topicDecisions.size >= TOPIC_CACHE_MAX) this.topicDecisions.clear();
      this.topicDecisions.set(key, ok);
    }
    if (!ok) {
      throw accessRefused(
        `access to topic '${routingKey}' in exchange '${exchange}' in vhost '${this.vhost}' refused for user '${this.user}'`,
      );
    }
  }

  /** The model changed: compile the user's patterns again and forget every cached decision. */
  private refresh(): void {
    this.generation = this.access.generation;
    this.decisions.clear();
    this.publishable.clear();
    this.topicDecisions.clear();
    const p = this.access.permission(this.user, this.vhost);
    const topics = new Map<string, { write: Matcher; read: Matcher }>();
    for (const [exchange, t] of this.access.topicPermissions(this.user, this.vhost) ?? []) {
      topics.set(exchange, { write: compile(this.expand(t.write)), read: compile(this.expand(t.read)) });
    }
    this.compiled = {
      configure: compile(p?.configure ?? ''),
      write: compile(p?.write ?? ''),
      read: compile(p?.read ?? ''),
      topics,
    };
  }

  /** RabbitMQ's topic-permission variables. */
  private expand(pattern: string): string {
    return pattern
      .replaceAll('{username}', this.identity.user)
      .replaceAll('{vhost}', this.identity.vhost)
      .replaceAll('{client_id}', this.identity.clientId);
  }
}

/** RabbitMQ names the default exchange "amq.default" in permission checks. */
function exchangeResource(name: string): string {
  return name === '' ? 'amq.default' : name;
}

/** Compiles a permission pattern; one that does not compile matches nothing (the API refuses such patterns). */
export function compile(pattern: string): Matcher {
  if (pattern === '') return false;
  if (pattern === '.*' || pattern === '^.*' || pattern === '^.*$') return true;
  try {
    return new RegExp(pattern);
  } catch {
    return false;
  }
}

/** True when `pattern` is a regular expression Wharf can compile (the API's 400 otherwise). */
export function isValidPattern(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}

function matches(m: Matcher, name: string): boolean {
  return typeof m === 'boolean' ? m : m.test(name);
}

function decrement(counts: Map<string, number>, key: string): void {
  const n = (counts.get(key) ?? 1) - 1;
  if (n <= 0) counts.delete(key);
  else counts.set(key, n);
}

/**
 * A connection asks to use `identity.vhost` (AMQP connection.open): RabbitMQ's checks
 * in its order (vhost exists, vhost connection limit, user connection limit, vhost
 * access); each refusal is a connection-level 530 NOT_ALLOWED with RabbitMQ's text.
 * The grant counts against the limits until release().
 */
export function openGrant(access: Access, identity: Identity): AccessGrant {
  const { user, vhost } = identity;
  const v = access.vhost(vhost);
  if (!v) throw new BrokerError('not-allowed', `vhost ${vhost} not found`, true);
  const vhostMax = v.limits['max-connections'];
  if (vhostMax !== undefined && vhostMax >= 0 && (access.vhostConnections.get(vhost) ?? 0) >= vhostMax) {
    throw new BrokerError('not-allowed', `access to vhost '${vhost}' refused for user '${user}': connection limit (${vhostMax}) is reached`, true);
  }
  const userMax = access.user(user)?.limits['max-connections'];
  if (userMax !== undefined && userMax >= 0 && (access.userConnections.get(user) ?? 0) >= userMax) {
    throw new BrokerError('not-allowed', `connection refused for user '${user}': user connection limit (${userMax}) is reached`, true);
  }
  if (!access.permission(user, vhost)) {
    throw new BrokerError('not-allowed', `access to vhost '${vhost}' refused for user '${user}'`, true);
  }
  access.vhostConnections.set(vhost, (access.vhostConnections.get(vhost) ?? 0) + 1);
  access.userConnections.set(user, (access.userConnections.get(user) ?? 0) + 1);
  return new AccessGrant(access, identity);
}
