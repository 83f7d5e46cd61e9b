// Tenancy set-up for the access suites: users, vhosts, permissions and limits made
// through the management API, of Wharf or (reference mode) of the reference
// RabbitMQ with the management plugin, so one test body runs against both:
//
//   WHARF_TEST_REFERENCE_URL=amqp://guest:guest@127.0.0.1:35710 \
//   WHARF_TEST_REFERENCE_MANAGEMENT_URL=http://127.0.0.1:35715 node --test dist/test/integration/access/*.test.js
//
// Every name is unique to the test run and everything made is deleted afterwards
// (the reference broker is shared).

import assert from 'node:assert/strict';
import { AMQPClient } from '@cloudamqp/amqp-client';
import { uniqueName, withTimeout, WAIT_MS } from './async.js';
import { after } from 'node:test';
import { enc, type ManagementApi, type ManagementScope } from './management.js';

/** The suite's Tenancy over its management scope: what the tests make is deleted after them. */
export function useTenancy(ctx: ManagementScope): Tenancy {
  const t = new Tenancy(() => ctx.api, () => ctx.broker.url);
  after(() => t.cleanup());
  return t;
}

export class Tenancy {
  private readonly users = new Set<string>();
  private readonly vhosts = new Set<string>();

  constructor(
    private readonly api: () => ManagementApi,
    private readonly amqpUrl: () => string,
  ) {}

  /** A new user (no tags unless given) with a unique name. */
  async user(prefix = 'u', password = 'pw-' + uniqueName('p'), tags = ''): Promise<{ name: string; password: string }> {
    const name = uniqueName(prefix);
    await this.ok(this.api().put(`/api/users/${enc(name)}`, { password, tags }), 'PUT user');
    this.users.add(name);
    return { name, password };
  }

  /** A new vhost with a unique name (its creator, guest, gets full permissions, as in RabbitMQ). */
  async vhost(prefix = 'v'): Promise<string> {
    const name = uniqueName(prefix);
    await this.ok(this.api().put(`/api/vhosts/${enc(name)}`, {}), 'PUT vhost');
    this.vhosts.add(name);
    return name;
  }

  async permit(vhost: string, user: string, configure: string, write: string, read: string): Promise<void> {
    await this.ok(this.api().put(`/api/permissions/${enc(vhost)}/${enc(user)}`, { configure, write, read }), 'PUT permissions');
  }

  async topicPermit(vhost: string, user: string, exchange: string, write: string, read: string): Promise<void> {
    await this.ok(this.api().put(`/api/topic-permissions/${enc(vhost)}/${enc(user)}`, { exchange, write, read }), 'PUT topic-permissions');
  }

  async vhostLimit(vhost: string, name: string, value: number): Promise<void> {
    await this.ok(this.api().put(`/api/vhost-limits/${enc(vhost)}/${name}`, { value }), 'PUT vhost-limits');
  }

  async userLimit(user: string, name: string, value: number): Promise<void> {
    await this.ok(this.api().put(`/api/user-limits/${enc(user)}/${name}`, { value }), 'PUT user-limits');
  }

  /** The broker's AMQP URL for another user and vhost. */
  url(user: string, password: string, vhost: string): string {
    const u = new URL(this.amqpUrl());
    return `amqp://${enc(user)}:${enc(password)}@${u.hostname}:${u.port}/${enc(vhost)}`;
  }

  /** Deletes every vhost and user made (best effort: the broker may be gone). */
  async cleanup(): Promise<void> {
    for (const v of this.vhosts) await this.api().delete(`/api/vhosts/${enc(v)}`).catch(() => undefined);
    for (const u of this.users) await this.api().delete(`/api/users/${enc(u)}`).catch(() => undefined);
    this.vhosts.clear();
    this.users.clear();
  }

  private async ok(p: Promise<{ status: number; text: string }>, what: string): Promise<void> {
    const r = await p;
    assert.ok(r.status === 201 || r.status === 204, `${what}: ${r.status} ${r.text}`);
  }
}

/**
 * Opens a connection that the server must refuse in connection.open, and returns
 * the close's text as @cloudamqp/amqp-client reports it ("NOT_ALLOWED - ... (530)").
 * amqplib hides the text of a close during the handshake; this client shows it.
 */
export async function openRefusal(url: string): Promise<string> {
  const c = new AMQPClient(url);
  try {
    await withTimeout(c.connect(), WAIT_MS, 'connect');
  } catch (err) {
    return (err as Error).message;
  }
  await c.close();
  assert.fail(`expected ${url} to be refused, but the connection opened`);
}
