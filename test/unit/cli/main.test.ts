// The `wharf` executable as a user runs it: exit codes, stdout/stderr, signals.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const mainJs = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));
const packageJson = fileURLToPath(new URL('../../../../package.json', import.meta.url));

/** The environment minus WHARF_* so the developer's own settings do not leak in. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WHARF_')));
  return { ...env, ...extra };
}

function wharf(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [mainJs, ...args], { env: cleanEnv(env), encoding: 'utf8', timeout: 10_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('wharf command', () => {
  it('--version prints the package version', () => {
    const { version } = JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string };
    assert.deepEqual(wharf(['--version']), { code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('--help prints usage on stdout', () => {
    const r = wharf(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: wharf <command>/);
    assert.match(wharf(['serve', '--help']).stdout, /--amqp-port/);
  });

  it('bad input: one line on stderr, exit code 2, nothing on stdout', () => {
    for (const [args, env] of [
      [[], {}],
      [['frobnicate'], {}],
      [['serve', '--amqp-port', 'x'], {}],
      [['serve', '--nope'], {}],
      [['serve'], { WHARF_LOG_LEVEL: 'loud' }],
      [['serve', '--config', '/nonexistent/wharf.json'], {}],
    ] as [string[], Record<string, string>][]) {
      const r = wharf(args, env);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^wharf: [^\n]+\n$/);
    }
  });

  it('serve: prints the listening line, answers health, exits 0 on SIGTERM', { timeout: 20_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'wharf-cli-'));
    const child = spawn(
      process.execPath,
      [mainJs, 'serve', '--amqp-port', '0', '--http-port', '0', '--kafka-port', '0', '--aws-port', '0', '--bind', '127.0.0.1', '--data-dir', dataDir, '--log-level', 'warn'],
      { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`exited ${code} before listening: ${stderr}`)));
      });
      const m = /^wharf listening amqp=127\.0\.0\.1:(\d+) http=127\.0\.0\.1:(\d+) kafka=127\.0\.0\.1:(\d+) aws=127\.0\.0\.1:\d+$/.exec(line);
      assert.ok(m, line);
      const health = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        get({ host: '127.0.0.1', port: Number(m[2]), path: '/api/health' }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        }).on('error', reject);
      });
      assert.equal(health.status, 200);
      assert.equal((JSON.parse(health.body) as { status: string }).status, 'ok');
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
    } finally {
      child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
