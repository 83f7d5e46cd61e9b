// A client in another language: Go's amqp091-go (RabbitMQ's own Go client; Debian
// package golang-github-rabbitmq-amqp091-go-dev). The Go programs live in
// test/integration/go/<name>/main.go; this suite builds them in GOPATH mode
// against the Debian sources and runs them against the broker. Skipped only when
// go or the package is not installed (CI: apt-get install -y golang-go
// golang-github-rabbitmq-amqp091-go-dev).

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { TEST_OPTS, WAIT_MS, uniqueName, withTimeout } from '../helpers/async.js';
import { useBroker } from '../helpers/amqplib.js';

const GOCODE = '/usr/share/gocode';
const hasGo = spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0;
const hasClient = existsSync(join(GOCODE, 'src/github.com/rabbitmq/amqp091-go'));
const opts = {
  ...TEST_OPTS,
  skip: hasGo && hasClient ? false : 'go or amqp091-go is not installed (apt-get install -y golang-go golang-github-rabbitmq-amqp091-go-dev)',
};

/** The Go sources, in the source tree (this file runs from dist/). */
const sources = fileURLToPath(new URL('../../../test/integration/go/', import.meta.url));
const BUILD_MS = 120_000;

/** Builds test/integration/go/<name> in a temporary GOPATH (no modules, no network) and returns the binary. */
async function buildGo(gopath: string, name: string): Promise<string> {
  const pkg = join(gopath, 'src', 'wharf-tests', name);
  await mkdir(pkg, { recursive: true });
  await copyFile(join(sources, name, 'main.go'), join(pkg, 'main.go'));
  const bin = join(gopath, 'bin', name);
  const env = {
    ...process.env,
    GO111MODULE: 'off',
    GOPATH: `${gopath}:${GOCODE}`,
    GOFLAGS: '',
    // A cache that outlives the test's GOPATH: later runs build in a moment.
    GOCACHE: process.env.GOCACHE ?? join(tmpdir(), 'wharf-test-go-cache'),
  };
  const { code, stderr } = await runProcess('go', ['build', '-o', bin, `wharf-tests/${name}`], env, BUILD_MS);
  assert.equal(code, 0, `go build ${name} failed:\n${stderr}`);
  return bin;
}

async function runProcess(
  exe: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  ms: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(exe, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
  child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
  const code = await withTimeout(
    new Promise<number | null>((resolve) => child.once('exit', resolve)),
    ms,
    `${exe} to finish`,
  ).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
  return { code, stdout, stderr };
}

/** Runs a built Go program and parses the JSON line it prints last. */
async function runGo(bin: string, args: string[]): Promise<Record<string, unknown>> {
  const { code, stdout, stderr } = await runProcess(bin, args, process.env, WAIT_MS * 2);
  assert.equal(code, 0, `${bin} failed:\n${stderr}`);
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
}

describe('amqp091-go (Go)', () => {
  const ctx = useBroker();
  let gopath = '';
  let closeCrossing = '';

  before(async () => {
    if (opts.skip) return;
    gopath = await mkdtemp(join(tmpdir(), 'wharf-go-'));
    closeCrossing = await buildGo(gopath, 'close-crossing');
  }, { timeout: BUILD_MS });

  after(async () => {
    if (gopath) await rm(gopath, { recursive: true, force: true });
  });

  // Issue 9: the client's channel.close crossed the server's channel.close 404, the
  // client then answered the server's close with close-ok, and Wharf took that
  // close-ok for a method on an unopened channel: 504 CHANNEL_ERROR for the connection.
  it('closes a channel right after a refused publish and keeps the connection and its other channels', opts, async () => {
    const rounds = 10;
    const result = await runGo(closeCrossing, [ctx.broker.url, uniqueName('x-missing'), uniqueName('x-go-cross'), String(rounds)]);
    assert.equal(result.error, undefined, String(result.error));
    assert.equal(result.declared, rounds);
    assert.equal(result.connectionClosed, false);
    // Close reports the server's 404 when it crossed the client's close. Rarely the 404 comes
    // back before Close is even called, and the client then sends no close at all.
    for (const r of result.closeResults as string[]) assert.ok(['404', 'ok', 'already-closed'].includes(r), `Close returned ${r}`);
  });
});
