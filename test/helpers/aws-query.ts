// Debian's boto3 (python3-boto3: boto3 1.26, botocore 1.29) and AWS CLI (awscli 2.9),
// which speak the AWS query protocol to SQS and SNS, run against Wharf with nothing
// of the user's configuration: a fresh HOME, no config or credentials files, no
// instance metadata, the test key. Called by absolute path: the PATH may have
// another python without boto3.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PYTHON = '/usr/bin/python3';
export const AWS_CLI = '/usr/bin/aws';

export function awsEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const home = mkdtempSync(join(tmpdir(), 'wharf-aws-home-'));
  return {
    PATH: '/usr/bin:/bin',
    HOME: home,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
    ...extra,
  };
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command with awsEnv(extra), its temporary HOME removed afterwards. */
export function run(cmd: string, args: string[], extra: Record<string, string> = {}, timeoutMs = 60_000): Promise<RunResult> {
  const env = awsEnv(extra);
  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  }).finally(() => rmSync(String(env.HOME), { recursive: true, force: true }));
}

/** Runs a boto3 script with its arguments (the endpoint URL first, by convention); its last stdout line is JSON. */
export async function boto3(script: string, args: string[], env: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const r = await run(PYTHON, ['-c', script, ...args], env);
  if (r.code !== 0) throw new Error(`python exited ${r.code}:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
}

/** Runs `aws --endpoint-url <endpoint> --output json <args>`. */
export function awsCli(endpoint: string, args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return run(AWS_CLI, ['--endpoint-url', endpoint, '--output', 'json', ...args], env);
}
