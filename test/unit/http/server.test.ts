import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import { startHttpServer } from '../../../src/http/server.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function call(port: number, method: string, path: string, host = '127.0.0.1'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, method, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('http server', () => {
  it('serves /api/health with the health fields, 404s the rest, and closes', async () => {
    let calls = 0;
    const server = await startHttpServer({
      port: 0,
      host: '127.0.0.1',
      health: () => ({ connections: ++calls, queues: 2 }),
    });
    try {
      assert.ok(server.port > 0);

      const health = await call(server.port, 'GET', '/api/health');
      assert.equal(health.status, 200);
      assert.match(String(health.headers['content-type']), /^application\/json/);
      assert.deepEqual(JSON.parse(health.body), { status: 'ok', connections: 1, queues: 2 });

      const withQuery = await call(server.port, 'GET', '/api/health?x=1');
      assert.deepEqual(JSON.parse(withQuery.body), { status: 'ok', connections: 2, queues: 2 });

      const root = await call(server.port, 'GET', '/');
      assert.equal(root.status, 200);
      assert.match(root.headers['content-type'] as string, /^text\/plain/);
      assert.match(root.body, /Wharf/);

      for (const path of ['/nope', '/api', '/api/health/extra', '/__proto__', '/constructor']) {
        const missing = await call(server.port, 'GET', path);
        assert.equal(missing.status, 404, path);
        assert.match(String(missing.headers['content-type']), /^application\/json/);
        // RabbitMQ's management API body for anything missing.
        assert.deepEqual(JSON.parse(missing.body), { error: 'Object Not Found', reason: 'Not Found' });
      }

      const post = await call(server.port, 'POST', '/api/health');
      assert.equal(post.status, 405);
      assert.equal(post.headers.allow, 'GET, HEAD');
      // RabbitMQ sends its 405 without a body.
      assert.equal(post.body, '');

      const head = await call(server.port, 'HEAD', '/api/health');
      assert.equal(head.status, 200);
      assert.equal(head.body, '');
    } finally {
      await server.close();
    }
    await assert.rejects(call(server.port, 'GET', '/api/health'));
    await server.close(); // idempotent
  });

  it('answers 500 with a JSON reason when health() throws', async () => {
    const server = await startHttpServer({
      port: 0,
      host: '127.0.0.1',
      health: () => {
        throw new Error('store unavailable');
      },
    });
    try {
      const res = await call(server.port, 'GET', '/api/health');
      assert.equal(res.status, 500);
      assert.deepEqual(JSON.parse(res.body), { error: 'internal_server_error', reason: 'store unavailable' });
    } finally {
      await server.close();
    }
  });

  it('rejects when the port is taken', async () => {
    const first = await startHttpServer({ port: 0, host: '127.0.0.1', health: () => ({}) });
    try {
      await assert.rejects(startHttpServer({ port: first.port, host: '127.0.0.1', health: () => ({}) }), {
        code: 'EADDRINUSE',
      });
    } finally {
      await first.close();
    }
  });

  it("listens on IPv4 and IPv6 with host '::'", async (t) => {
    let server;
    try {
      server = await startHttpServer({ port: 0, host: '::', health: () => ({}) });
    } catch {
      t.skip('no IPv6 on this machine');
      return;
    }
    try {
      assert.equal((await call(server.port, 'GET', '/api/health', '127.0.0.1')).status, 200);
      assert.equal((await call(server.port, 'GET', '/api/health', '::1')).status, 200);
    } finally {
      await server.close();
    }
  });

  it('close() does not wait for idle keep-alive connections', async () => {
    const server = await startHttpServer({ port: 0, host: '127.0.0.1', health: () => ({}) });
    const { Agent } = await import('node:http');
    const agent = new Agent({ keepAlive: true });
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: server.port, path: '/api/health', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      });
      req.on('error', reject);
      req.end();
    });
    await server.close();
    agent.destroy();
  });
});
