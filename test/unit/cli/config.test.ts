import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  helpText,
  hostPort,
  listeningLine,
  parseCommandLine,
  parseSize,
  serveDefaults,
  serveHelpText,
  UsageError,
  type Command,
  type Env,
  type ServeOptions,
} from '../../../src/cli/config.js';

const noFiles = (path: string): string => {
  throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
};

function files(map: Record<string, string>) {
  return (path: string): string => (Object.hasOwn(map, path) ? map[path] : noFiles(path));
}

function serve(argv: string[], env: Env = {}, readFile = noFiles): ServeOptions {
  const cmd: Command = parseCommandLine(['serve', ...argv], env, readFile);
  assert.equal(cmd.command, 'serve');
  return (cmd as Extract<Command, { command: 'serve' }>).options;
}

function usageError(argv: string[], env: Env, readFile: (p: string) => string, message: RegExp | string): void {
  assert.throws(
    () => parseCommandLine(argv, env, readFile),
    (err: unknown) => {
      assert.ok(err instanceof UsageError, `expected UsageError, got ${String(err)}`);
      assert.ok(!err.message.includes('\n'), 'one line');
      if (typeof message === 'string') assert.equal(err.message, message);
      else assert.match(err.message, message);
      return true;
    },
  );
}

describe('cli: commands', () => {
  it('help and version', () => {
    for (const a of ['--help', '-h', 'help']) assert.deepEqual(parseCommandLine([a], {}, noFiles), { command: 'help', text: helpText });
    for (const a of ['--version', '-v', 'version']) assert.deepEqual(parseCommandLine([a], {}, noFiles), { command: 'version' });
    assert.deepEqual(parseCommandLine(['serve', '--help'], {}, noFiles), { command: 'help', text: serveHelpText });
    assert.deepEqual(parseCommandLine(['serve', '-h', '--amqp-port', 'bad'], {}, noFiles), { command: 'help', text: serveHelpText });
    assert.deepEqual(parseCommandLine(['help', 'serve'], {}, noFiles), { command: 'help', text: serveHelpText });
  });

  it('operator verbs go to src/cli/admin with their arguments; help VERB is VERB --help', () => {
    assert.deepEqual(parseCommandLine(['queues', '--json'], {}, noFiles), { command: 'admin', verb: 'queues', args: ['--json'] });
    assert.deepEqual(parseCommandLine(['help', 'publish'], {}, noFiles), { command: 'admin', verb: 'publish', args: ['--help'] });
    usageError(['help', 'frobnicate'], {}, noFiles, "unknown command 'frobnicate'; try 'wharf --help'");
    for (const verb of ['status', 'queues', 'publish', 'get', 'consume', 'definitions', 'policies', 'users', 'vhosts']) {
      assert.ok(helpText.includes(`  ${verb} `), verb);
    }
  });

  it('help mentions every serve flag and its variable', () => {
    for (const s of ['--data-dir', 'WHARF_DATA_DIR', '--amqp-port', 'WHARF_AMQP_PORT', '--http-port', 'WHARF_HTTP_PORT',
      '--bind', 'WHARF_BIND', '--fsync', 'WHARF_FSYNC', '--log-level', 'WHARF_LOG_LEVEL', '--user', 'WHARF_USERS', '--config',
      '--memory-high-watermark', 'WHARF_MEMORY_HIGH_WATERMARK', '--disk-free-limit', 'WHARF_DISK_FREE_LIMIT',
      '--consumer-timeout', 'WHARF_CONSUMER_TIMEOUT', '--kafka-port', 'WHARF_KAFKA_PORT', '--kafka-advertised-host',
      'WHARF_KAFKA_ADVERTISED_HOST', '--kafka-auto-create-topics', 'WHARF_KAFKA_AUTO_CREATE_TOPICS', '--latency-trace', 'WHARF_LATENCY_TRACE',
      '--log-format', 'WHARF_LOG_FORMAT',
      '--tls-cert', 'WHARF_TLS_CERT', '--tls-key', 'WHARF_TLS_KEY', '--tls-ca', 'WHARF_TLS_CA', '--tls-verify-peer', 'WHARF_TLS_VERIFY_PEER',
      '--tls-fail-if-no-peer-cert', 'WHARF_TLS_FAIL_IF_NO_PEER_CERT', '--tls-cert-login-from', 'WHARF_TLS_CERT_LOGIN_FROM',
      '--amqps-port', 'WHARF_AMQPS_PORT', '--https-port', 'WHARF_HTTPS_PORT', '"tlsCert"', '"amqpsPort"', '"httpsPort"']) {
      assert.ok(serveHelpText.includes(s), s);
    }
  });

  it('refuses a missing or unknown command', () => {
    usageError([], {}, noFiles, "missing command; try 'wharf --help'");
    usageError(['start'], {}, noFiles, "unknown command 'start'; try 'wharf --help'");
    usageError(['--port', '1'], {}, noFiles, "unknown option '--port'; try 'wharf --help'");
  });
});

describe('cli: serve options', () => {
  it('defaults', () => {
    assert.deepEqual(serve([]), {
      dataDir: './data', amqpPort: 5672, httpPort: 15672, kafkaPort: 9092, kafkaAutoCreateTopics: true, kafkaSaslMechanisms: [], awsPort: 4566, awsCredentials: [], bind: '::',
      fsync: 'batch', logLevel: 'info', logFormat: 'text', users: [],
      memoryHighWatermark: { relative: 0.4 }, diskFreeLimit: { bytes: 50_000_000 }, consumerTimeoutMs: 1_800_000,
      latencyTraceSec: 0,
    });
    assert.deepEqual(serve([]), serveDefaults);
  });

  it('flags, in both --flag value and --flag=value forms', () => {
    assert.deepEqual(
      serve(['--data-dir', '/var/lib/wharf', '--amqp-port=5673', '--http-port', '0', '--bind', '127.0.0.1',
        '--fsync', 'always', '--log-level=debug', '--log-format', 'json', '--user', 'alice:secret', '--user', 'bob:pa:ss',
        '--memory-high-watermark', '0.6', '--disk-free-limit=2GB', '--consumer-timeout', '0',
        '--kafka-port', '9093', '--kafka-advertised-host', 'kafka.example', '--kafka-auto-create-topics=false', '--latency-trace', '10']),
      {
        dataDir: '/var/lib/wharf', amqpPort: 5673, httpPort: 0, kafkaPort: 9093, kafkaAdvertisedHost: 'kafka.example',
        kafkaAutoCreateTopics: false, kafkaSaslMechanisms: [], awsPort: 4566, awsCredentials: [], bind: '127.0.0.1', fsync: 'always', logLevel: 'debug', logFormat: 'json',
        users: [{ name: 'alice', password: 'secret' }, { name: 'bob', password: 'pa:ss' }],
        memoryHighWatermark: { relative: 0.6 }, diskFreeLimit: { bytes: 2_000_000_000 }, consumerTimeoutMs: 0,
        latencyTraceSec: 10,
      },
    );
  });

  it('environment variables', () => {
    const env = {
      WHARF_DATA_DIR: 'd', WHARF_AMQP_PORT: '0', WHARF_HTTP_PORT: '8080', WHARF_BIND: '::1', WHARF_FSYNC: 'never',
      WHARF_LOG_LEVEL: 'WARN', WHARF_LOG_FORMAT: 'JSON', WHARF_USERS: 'alice:a, bob:b ,,',
      WHARF_MEMORY_HIGH_WATERMARK: '512MiB', WHARF_DISK_FREE_LIMIT: 'mem_relative:1.5', WHARF_CONSUMER_TIMEOUT: '60000',
      WHARF_KAFKA_PORT: '0', WHARF_KAFKA_AUTO_CREATE_TOPICS: 'true',
      WHARF_LATENCY_TRACE: '5',
    };
    assert.deepEqual(serve([], env), {
      dataDir: 'd', amqpPort: 0, httpPort: 8080, kafkaPort: 0, kafkaAutoCreateTopics: true, kafkaSaslMechanisms: [], awsPort: 4566, awsCredentials: [], bind: '::1', fsync: 'never', logLevel: 'warn', logFormat: 'json',
      users: [{ name: 'alice', password: 'a' }, { name: 'bob', password: 'b' }],
      memoryHighWatermark: { bytes: 512 * 2 ** 20 }, diskFreeLimit: { memRelative: 1.5 }, consumerTimeoutMs: 60_000,
      latencyTraceSec: 5,
    });
  });

  it('empty environment variables count as unset', () => {
    assert.deepEqual(serve([], { WHARF_AMQP_PORT: '', WHARF_BIND: '  ', WHARF_USERS: '', WHARF_DISK_FREE_LIMIT: '' }), serveDefaults);
  });

  it('config file', () => {
    const file = JSON.stringify({
      dataDir: '/srv/wharf', amqpPort: 1234, httpPort: '4321', bind: '0.0.0.0', fsync: 'never', logLevel: 'error', logFormat: 'text',
      users: [{ name: 'carol', password: 'c' }], memoryHighWatermark: 0.5, diskFreeLimit: 1_000_000, consumerTimeoutMs: 900_000,
      kafkaPort: 19092, kafkaAdvertisedHost: 'h', kafkaAutoCreateTopics: false,
      latencyTraceSec: 30,
    });
    assert.deepEqual(serve(['--config', 'w.json'], {}, files({ 'w.json': file })), {
      dataDir: '/srv/wharf', amqpPort: 1234, httpPort: 4321, kafkaPort: 19092, kafkaAdvertisedHost: 'h', kafkaAutoCreateTopics: false,
      kafkaSaslMechanisms: [], awsPort: 4566, awsCredentials: [], bind: '0.0.0.0', fsync: 'never', logLevel: 'error', logFormat: 'text',
      users: [{ name: 'carol', password: 'c' }], memoryHighWatermark: { relative: 0.5 }, diskFreeLimit: { bytes: 1_000_000 },
      consumerTimeoutMs: 900_000, latencyTraceSec: 30,
    });
    assert.equal(serve([], { WHARF_CONFIG: 'w.json' }, files({ 'w.json': file })).amqpPort, 1234);
  });

  it('precedence: flag > environment > config file > default, option by option', () => {
    const file = JSON.stringify({ amqpPort: 1, httpPort: 1, bind: 'file-host', users: [{ name: 'f', password: 'f' }] });
    const env = { WHARF_AMQP_PORT: '2', WHARF_HTTP_PORT: '2', WHARF_USERS: 'e:e' };
    const o = serve(['--config', 'c.json', '--amqp-port', '3'], env, files({ 'c.json': file }));
    assert.equal(o.amqpPort, 3); // flag
    assert.equal(o.httpPort, 2); // env
    assert.equal(o.bind, 'file-host'); // file
    assert.equal(o.fsync, 'batch'); // default
    assert.deepEqual(o.users, [{ name: 'e', password: 'e' }]); // env list replaces the file's
    const o2 = serve(['--config', 'c.json', '--user', 'x:y'], env, files({ 'c.json': file }));
    assert.deepEqual(o2.users, [{ name: 'x', password: 'y' }]);
    const o3 = serve(['--config', 'c.json'], {}, files({ 'c.json': file }));
    assert.deepEqual(o3.users, [{ name: 'f', password: 'f' }]);
  });

  it('--config on the command line beats WHARF_CONFIG', () => {
    const read = files({ 'a.json': '{"amqpPort": 1}', 'b.json': '{"amqpPort": 2}' });
    assert.equal(serve(['--config', 'b.json'], { WHARF_CONFIG: 'a.json' }, read).amqpPort, 2);
  });

  it('memory high watermark: a plain number up to 1 is a fraction of RAM, a size is bytes', () => {
    const w = (v: string) => serve(['--memory-high-watermark', v]).memoryHighWatermark;
    assert.deepEqual(w('0.4'), { relative: 0.4 });
    assert.deepEqual(w('0'), { relative: 0 });
    assert.deepEqual(w('1'), { relative: 1 });
    assert.deepEqual(w('1.0'), { relative: 1 });
    assert.deepEqual(w('2GB'), { bytes: 2_000_000_000 });
    assert.deepEqual(w('2GiB'), { bytes: 2 * 2 ** 30 });
    assert.deepEqual(w('1073741824'), { bytes: 1073741824 });
    assert.deepEqual(serve(['--config', 'c.json'], {}, files({ 'c.json': '{"memoryHighWatermark": 4e9}' })).memoryHighWatermark, { bytes: 4e9 });
  });

  it('disk free limit: a size (a plain number is bytes), or mem_relative:N', () => {
    const d = (v: string) => serve(['--disk-free-limit', v]).diskFreeLimit;
    assert.deepEqual(d('50MB'), { bytes: 50_000_000 });
    assert.deepEqual(d('1.5GiB'), { bytes: 1.5 * 2 ** 30 });
    assert.deepEqual(d('0'), { bytes: 0 });
    assert.deepEqual(d('mem_relative:1.0'), { memRelative: 1 });
    assert.deepEqual(d('MEM_RELATIVE: 2'), { memRelative: 2 });
  });

  it('sizes: RabbitMQ units (kB MB GB TB are powers of 1000; k, Ki, KiB and the like of 1024)', () => {
    const cases: [string, number | undefined][] = [
      ['1000', 1000], ['7B', 7], ['1kB', 1e3], ['1KB', 1e3], ['3MB', 3e6], ['2gb', 2e9], ['1TB', 1e12],
      ['1k', 1024], ['1K', 1024], ['1Ki', 1024], ['1KiB', 1024], ['1kib', 1024], ['2M', 2 * 2 ** 20], ['2Mi', 2 * 2 ** 20],
      ['1G', 2 ** 30], ['1GiB', 2 ** 30], ['1Ti', 2 ** 40], ['0.5GB', 5e8], [' 10 MB ', 1e7],
      ['1.5', undefined], ['-1', undefined], ['1e9', undefined], ['MB', undefined], ['1XB', undefined],
      ['1 constructor', undefined], ['', undefined], ['99999999999TB', undefined],
    ];
    for (const [text, bytes] of cases) assert.equal(parseSize(text), bytes, text);
  });

  it('Kafka SASL mechanisms and the Kafka TLS listener, from flags, environment and config file', () => {
    const o = serve(['--kafka-sasl-mechanisms', 'PLAIN, SCRAM-SHA-512,PLAIN', '--kafka-tls-port', '9093', '--tls-cert', 'c.pem', '--tls-key=k.pem']);
    assert.deepEqual(o.kafkaSaslMechanisms, ['PLAIN', 'SCRAM-SHA-512']);
    assert.equal(o.kafkaTlsPort, 9093);
    assert.equal(o.tls?.certFile, 'c.pem');
    assert.equal(o.tls?.keyFile, 'k.pem');
    assert.equal(o.tls?.caFile, undefined);
    const env = { WHARF_KAFKA_SASL_MECHANISMS: 'SCRAM-SHA-256', WHARF_KAFKA_TLS_PORT: '0', WHARF_TLS_CERT: 'a', WHARF_TLS_KEY: 'b', WHARF_TLS_CA: 'ca' };
    const fromEnv = serve([], env);
    assert.deepEqual([fromEnv.kafkaSaslMechanisms, fromEnv.kafkaTlsPort, fromEnv.tls?.certFile, fromEnv.tls?.keyFile, fromEnv.tls?.caFile], [['SCRAM-SHA-256'], 0, 'a', 'b', 'ca']);
    assert.throws(() => serve(['--kafka-tls-port', '9093']), /--kafka-tls-port needs --tls-cert and --tls-key/);
    const file = JSON.stringify({ kafkaSaslMechanisms: ['PLAIN'], kafkaTlsPort: 19093, tlsCert: 'x', tlsKey: 'y' });
    const fromFile = serve(['--config', 'w.json'], {}, files({ 'w.json': file }));
    assert.deepEqual([fromFile.kafkaSaslMechanisms, fromFile.kafkaTlsPort], [['PLAIN'], 19093]);
  });

  it('AWS port and access keys, from flags, environment and config file', () => {
    const o = serve(['--aws-port', '0', '--aws-credentials', 'AK:SK:team', '--aws-credentials', 'B:C']);
    assert.equal(o.awsPort, 0);
    assert.deepEqual(o.awsCredentials, [{ accessKey: 'AK', secret: 'SK', vhost: 'team' }, { accessKey: 'B', secret: 'C', vhost: '/' }]);
    assert.deepEqual(serve([], { WHARF_AWS_CREDENTIALS: 'x:y,z:w:v' }).awsCredentials, [{ accessKey: 'x', secret: 'y', vhost: '/' }, { accessKey: 'z', secret: 'w', vhost: 'v' }]);
    const fromFile = serve(['--config', 'w.json'], {}, files({ 'w.json': JSON.stringify({ awsPort: 14566, awsCredentials: ['k:s'] }) }));
    assert.deepEqual([fromFile.awsPort, fromFile.awsCredentials], [14566, [{ accessKey: 'k', secret: 's', vhost: '/' }]]);
    assert.throws(() => serve(['--aws-credentials', 'only-a-key']), /expected KEY:SECRET or KEY:SECRET:VHOST/);
  });

  it('port bounds', () => {
    assert.equal(serve(['--amqp-port', '65535']).amqpPort, 65535);
    assert.equal(serve(['--amqp-port', '0']).amqpPort, 0);
  });

  it('limits: --max-message-size, --channel-max, --frame-max, --max-unconfirmed-bytes from each source', () => {
    const o = serve(['--max-message-size', '16MiB', '--channel-max=100', '--frame-max', '65536', '--max-unconfirmed-bytes', '8MiB']);
    assert.deepEqual(
      [o.maxMessageSize, o.channelMax, o.frameMax, o.maxUnconfirmedBytes],
      [16 * 2 ** 20, 100, 65536, 8 * 2 ** 20],
    );
    const env = { WHARF_MAX_MESSAGE_SIZE: '1024', WHARF_CHANNEL_MAX: '10', WHARF_FRAME_MAX: '4096', WHARF_MAX_UNCONFIRMED_BYTES: '1MB' };
    const e = serve([], env);
    assert.deepEqual([e.maxMessageSize, e.channelMax, e.frameMax, e.maxUnconfirmedBytes], [1024, 10, 4096, 1_000_000]);
    const file = JSON.stringify({ maxMessageSize: 536870912, channelMax: 65535, frameMax: '1MiB', maxUnconfirmedBytes: 65536 });
    const f = serve(['--config', 'l.json'], {}, files({ 'l.json': file }));
    assert.deepEqual([f.maxMessageSize, f.channelMax, f.frameMax, f.maxUnconfirmedBytes], [536870912, 65535, 2 ** 20, 65536]);
    assert.equal(serve([]).maxMessageSize, undefined, 'unset: the broker default (128 MiB)');
  });

  it('limits: out-of-range values are refused (RabbitMQ caps max_message_size at 512 MiB)', () => {
    usageError(['serve', '--max-message-size', '513MiB'], {}, noFiles, /invalid --max-message-size: "513MiB" \(expected a size from 1 byte to 512MiB/);
    usageError(['serve', '--max-message-size', '0'], {}, noFiles, /invalid --max-message-size/);
    usageError(['serve', '--channel-max', '0'], {}, noFiles, /invalid --channel-max: "0" \(expected a number of channels from 1 to 65535\)/);
    usageError(['serve', '--channel-max', '65536'], {}, noFiles, /invalid --channel-max/);
    usageError(['serve', '--frame-max', '4095'], {}, noFiles, /invalid --frame-max: "4095" \(expected a size from 4096 bytes to 1GiB\)/);
    usageError(['serve'], { WHARF_MAX_UNCONFIRMED_BYTES: '1k' }, noFiles, /invalid WHARF_MAX_UNCONFIRMED_BYTES/);
  });
});

describe('cli: bad values are one-line usage errors', () => {
  const cases: [name: string, argv: string[], env: Env, message: RegExp | string][] = [
    ['port too large', ['--amqp-port', '65536'], {}, 'invalid --amqp-port: "65536" (expected a port number from 0 to 65535)'],
    ['negative port', ['--http-port=-1'], {}, /^invalid --http-port: "-1"/],
    ['port not a number', ['--amqp-port', '56x'], {}, /^invalid --amqp-port: "56x"/],
    ['fractional port', ['--amqp-port', '1.5'], {}, /^invalid --amqp-port/],
    ['hex port', ['--amqp-port', '0x10'], {}, /^invalid --amqp-port/],
    ['empty port', ['--amqp-port='], {}, /^invalid --amqp-port: ""/],
    ['kafka port', ['--kafka-port', '70000'], {}, /^invalid --kafka-port: "70000"/],
    ['kafka auto-create', ['--kafka-auto-create-topics', 'yes'], {}, 'invalid --kafka-auto-create-topics: "yes" (expected true or false)'],
    ['kafka advertised host with a space', [], { WHARF_KAFKA_ADVERTISED_HOST: 'a b' }, /^invalid WHARF_KAFKA_ADVERTISED_HOST/],
    ['env port', [], { WHARF_HTTP_PORT: 'eighty' }, 'invalid WHARF_HTTP_PORT: "eighty" (expected a port number from 0 to 65535)'],
    ['fsync', ['--fsync', 'sometimes'], {}, 'invalid --fsync: "sometimes" (expected always, batch, never)'],
    ['env fsync', [], { WHARF_FSYNC: 'ALWAYS' }, /^invalid WHARF_FSYNC/],
    ['log level', ['--log-level', 'trace'], {}, 'invalid --log-level: "trace" (expected debug, info, warn, error, silent)'],
    ['log format', ['--log-format', 'xml'], {}, 'invalid --log-format: "xml" (expected text, json)'],
    ['bind with a space', ['--bind', 'a b'], {}, /^invalid --bind/],
    ['empty data dir', ['--data-dir', ''], {}, /^invalid --data-dir/],
    ['user without colon', ['--user', 'alice'], {}, "invalid --user: 'alice' (expected name:password)"],
    ['user without name', ['--user', ':pw'], {}, /^invalid --user/],
    ['user without password', ['--user', 'alice:'], {}, /^invalid --user/],
    ['duplicate user', ['--user', 'a:1', '--user', 'a:2'], {}, "invalid --user: user 'a' is given twice"],
    ['env user', [], { WHARF_USERS: 'a:1,b' }, "invalid WHARF_USERS: 'b' (expected name:password)"],
    ['unknown flag', ['--port', '1'], {}, /^serve: Unknown option '--port'/],
    ['missing value', ['--amqp-port'], {}, /^serve: Option '--amqp-port <value>' argument missing/],
    ['positional argument', ['extra'], {}, /^serve: Unexpected argument 'extra'/],
    ['missing config file', ['--config', 'nope.json'], {}, "cannot read config file 'nope.json': ENOENT"],
    ['watermark above 1 with a fraction', ['--memory-high-watermark', '1.5'], {},
      'invalid --memory-high-watermark: "1.5" (expected a fraction of RAM from 0 to 1 like 0.4, or a size like 512MB or 2GiB)'],
    ['negative watermark', ['--memory-high-watermark=-0.1'], {}, /^invalid --memory-high-watermark: "-0.1"/],
    ['watermark with a percent sign', ['--memory-high-watermark', '40%'], {}, /^invalid --memory-high-watermark/],
    ['env watermark', [], { WHARF_MEMORY_HIGH_WATERMARK: 'lots' }, /^invalid WHARF_MEMORY_HIGH_WATERMARK: "lots"/],
    ['disk limit unit', ['--disk-free-limit', '50XB'], {},
      'invalid --disk-free-limit: "50XB" (expected a size like 50MB or 1GiB, or mem_relative:N (N times the RAM))'],
    ['disk limit fraction of a byte', ['--disk-free-limit', '0.5'], {}, /^invalid --disk-free-limit/],
    ['disk limit relative without factor', ['--disk-free-limit', 'mem_relative:'], {}, /^invalid --disk-free-limit/],
    ['env disk limit', [], { WHARF_DISK_FREE_LIMIT: '-5MB' }, /^invalid WHARF_DISK_FREE_LIMIT/],
    ['consumer timeout', ['--consumer-timeout', '5s'], {},
      'invalid --consumer-timeout: "5s" (expected a whole number of milliseconds, 0 or more)'],
    ['latency trace', ['--latency-trace', '1.5'], {},
      'invalid --latency-trace: "1.5" (expected a whole number of seconds from 0 to 86400)'],
    ['latency trace env', [], { WHARF_LATENCY_TRACE: 'on' },
      'invalid WHARF_LATENCY_TRACE: "on" (expected a whole number of seconds from 0 to 86400)'],
  ];
  for (const [name, argv, env, message] of cases) {
    it(name, () => usageError(['serve', ...argv], env, noFiles, message));
  }

  const fileCases: [name: string, content: string, message: RegExp | string][] = [
    ['not JSON', '{amqpPort: 1}', /^config file 'c.json' is not valid JSON: /],
    ['not an object', '[1]', "config file 'c.json' must hold a JSON object"],
    ['unknown key', '{"amqp_port": 1}', /^unknown key 'amqp_port' in config file 'c.json' \(expected dataDir, /],
    ['bad port', '{"amqpPort": 70000}', "invalid amqpPort in config file 'c.json': 70000 (expected a port number from 0 to 65535)"],
    ['fractional port', '{"httpPort": 1.5}', /^invalid httpPort in config file/],
    ['port as boolean', '{"httpPort": true}', /^invalid httpPort in config file/],
    ['bad fsync', '{"fsync": 1}', /^invalid fsync in config file/],
    ['bad watermark', '{"memoryHighWatermark": 2.5}', /^invalid memoryHighWatermark in config file 'c.json': 2.5/],
    ['watermark as object', '{"memoryHighWatermark": {"relative": 0.4}}', /^invalid memoryHighWatermark in config file/],
    ['bad disk limit', '{"diskFreeLimit": true}', /^invalid diskFreeLimit in config file 'c.json': true/],
    ['users not an array', '{"users": {"name": "a"}}', /^invalid users in config file/],
    ['user missing password', '{"users": [{"name": "a"}]}', /^invalid users in config file 'c.json': each user must be/],
    ['user with extra key', '{"users": [{"name": "a", "password": "b", "tags": []}]}', /^invalid users in config file/],
    ['duplicate users', '{"users": [{"name": "a", "password": "b"}, {"name": "a", "password": "c"}]}', /given twice$/],
  ];
  for (const [name, content, message] of fileCases) {
    it(`config file: ${name}`, () => usageError(['serve', '--config', 'c.json'], {}, files({ 'c.json': content }), message));
  }

  it('Kafka SASL mechanisms must be known; the Kafka TLS port needs a certificate and key', () => {
    usageError(['serve', '--kafka-sasl-mechanisms', 'PLAIN,GSSAPI'], {}, noFiles, /invalid --kafka-sasl-mechanisms: "PLAIN,GSSAPI" \(expected a comma-separated list of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512\)/);
    usageError(['serve', '--kafka-sasl-mechanisms', 'plain'], {}, noFiles, /invalid --kafka-sasl-mechanisms/);
    usageError(['serve', '--kafka-tls-port', '9093'], {}, noFiles, '--kafka-tls-port needs --tls-cert and --tls-key');
    usageError(['serve', '--kafka-tls-port', '9093', '--tls-cert', 'c.pem'], {}, noFiles, '--tls-cert needs --tls-key (the private key of the certificate)');
  });

  it('a bad value in a lower-precedence source is not looked at when a higher one wins', () => {
    const read = files({ 'c.json': '{"amqpPort": "bad"}' });
    assert.equal(serve(['--config', 'c.json', '--amqp-port', '1'], { WHARF_AMQP_PORT: 'also bad' }, read).amqpPort, 1);
  });

  it('does not echo passwords from the config file', () => {
    const read = files({ 'c.json': '{"users": [{"name": "a", "password": "hunter2", "x": 1}]}' });
    assert.throws(() => parseCommandLine(['serve', '--config', 'c.json'], {}, read), (err: Error) => !err.message.includes('hunter2'));
  });
});

describe('cli: listening line', () => {
  it('brackets IPv6 hosts', () => {
    assert.equal(hostPort('::', 5672), '[::]:5672');
    assert.equal(hostPort('::1', 1), '[::1]:1');
    assert.equal(hostPort('127.0.0.1', 1), '127.0.0.1:1');
    assert.equal(hostPort('localhost', 1), 'localhost:1');
    assert.equal(
      listeningLine({ host: '::', amqpPort: 5672, httpPort: 15672, kafkaPort: 9092 }),
      'wharf listening amqp=[::]:5672 http=[::]:15672 kafka=[::]:9092',
    );
    assert.equal(listeningLine({ host: '0.0.0.0', amqpPort: 1, httpPort: 2, kafkaPort: 3 }), 'wharf listening amqp=0.0.0.0:1 http=0.0.0.0:2 kafka=0.0.0.0:3');
    assert.equal(
      listeningLine({ host: '0.0.0.0', amqpPort: 1, httpPort: 2, kafkaPort: 3, kafkaTlsPort: 4 }),
      'wharf listening amqp=0.0.0.0:1 http=0.0.0.0:2 kafka=0.0.0.0:3 kafka-tls=0.0.0.0:4',
    );
  });

  it('adds amqps= and https= when those listeners exist', () => {
    assert.equal(
      listeningLine({ host: '::', amqpPort: 5672, httpPort: 15672, kafkaPort: 9092, amqpsPort: 5671, httpsPort: 15671 }),
      'wharf listening amqp=[::]:5672 http=[::]:15672 kafka=[::]:9092 amqps=[::]:5671 https=[::]:15671',
    );
    assert.equal(
      listeningLine({ host: 'h', amqpPort: 1, httpPort: 2, kafkaPort: 3, amqpsPort: 4, httpsPort: undefined }),
      'wharf listening amqp=h:1 http=h:2 kafka=h:3 amqps=h:4',
    );
  });
});

describe('cli: TLS options', () => {
  it('no TLS unless a certificate and key are given', () => {
    const o = serve([]);
    assert.equal(o.tls, undefined);
    assert.equal(o.amqpsPort, undefined);
    assert.equal(o.httpsPort, undefined);
  });

  it('flags: AMQPS on 5671 by default, HTTPS only when asked', () => {
    assert.deepEqual(pickTls(serve(['--tls-cert', 'c.pem', '--tls-key', 'k.pem'])), {
      tls: { certFile: 'c.pem', keyFile: 'k.pem', verifyPeer: false, failIfNoPeerCert: false }, amqpsPort: 5671,
    });
    assert.deepEqual(
      pickTls(serve(['--tls-cert', 'c.pem', '--tls-key=k.pem', '--tls-ca', 'ca.pem', '--tls-verify-peer', '--tls-fail-if-no-peer-cert',
        '--amqps-port', '0', '--https-port', '15671', '--tls-cert-login-from', 'subject_alternative_name'])),
      {
        tls: { certFile: 'c.pem', keyFile: 'k.pem', caFile: 'ca.pem', verifyPeer: true, failIfNoPeerCert: true },
        amqpsPort: 0, httpsPort: 15671, certLoginFrom: 'subject_alternative_name',
      },
    );
  });

  it('environment variables and config file keys, flags first', () => {
    const env = { WHARF_TLS_CERT: 'env.pem', WHARF_TLS_KEY: 'env.key', WHARF_TLS_VERIFY_PEER: 'true', WHARF_AMQPS_PORT: '6671' };
    assert.deepEqual(pickTls(serve([], env)), {
      tls: { certFile: 'env.pem', keyFile: 'env.key', verifyPeer: true, failIfNoPeerCert: false }, amqpsPort: 6671,
    });
    const file = JSON.stringify({ tlsCert: 'f.pem', tlsKey: 'f.key', tlsCa: 'fca.pem', tlsVerifyPeer: true, tlsFailIfNoPeerCert: true,
      tlsCertLoginFrom: 'common_name', amqpsPort: 7671, httpsPort: 17671 });
    assert.deepEqual(pickTls(serve(['--tls-cert', 'flag.pem'], { WHARF_CONFIG: 'w.json' }, files({ 'w.json': file }))), {
      tls: { certFile: 'flag.pem', keyFile: 'f.key', caFile: 'fca.pem', verifyPeer: true, failIfNoPeerCert: true },
      amqpsPort: 7671, httpsPort: 17671, certLoginFrom: 'common_name',
    });
  });

  it('refuses half a TLS setup and TLS options without TLS', () => {
    usageError(['serve', '--tls-cert', 'c.pem'], {}, noFiles, '--tls-cert needs --tls-key (the private key of the certificate)');
    usageError(['serve', '--tls-key', 'k.pem'], {}, noFiles, '--tls-key needs --tls-cert');
    usageError(['serve', '--amqps-port', '5671', '--tls-verify-peer'], {}, noFiles, '--tls-verify-peer, --amqps-port need TLS: give --tls-cert and --tls-key');
    usageError(['serve', '--tls-cert', 'c', '--tls-key', 'k', '--tls-fail-if-no-peer-cert'], {}, noFiles,
      '--tls-fail-if-no-peer-cert needs --tls-verify-peer');
    usageError(['serve', '--tls-cert', 'c', '--tls-key', 'k', '--tls-cert-login-from', 'cn'], {}, noFiles,
      'invalid --tls-cert-login-from: "cn" (expected common_name or subject_alternative_name)');
    usageError(['serve', '--tls-cert', 'c', '--tls-key', 'k', '--https-port', '70000'], {}, noFiles, /invalid --https-port/);
    usageError(['serve'], { WHARF_TLS_CERT: 'c', WHARF_TLS_KEY: 'k', WHARF_TLS_VERIFY_PEER: 'yes' }, noFiles, /invalid WHARF_TLS_VERIFY_PEER/);
  });
});

function pickTls(o: ServeOptions): Partial<ServeOptions> {
  const { tls, amqpsPort, httpsPort, certLoginFrom } = o;
  return Object.fromEntries(Object.entries({ tls, amqpsPort, httpsPort, certLoginFrom }).filter(([, v]) => v !== undefined));
}

describe('serve: cluster options', () => {
  it('none: a single node', () => {
    assert.equal(serve([]).cluster, undefined);
  });

  it('--cluster with --node-name and the rest; the environment and the config file too', () => {
    assert.deepEqual(
      serve(['--cluster', 'http://127.0.0.1:2379,http://127.0.0.1:22379', '--node-name', 'n1', '--advertise-host', 'h1',
        '--cluster-name', 'prod', '--cluster-lease-ttl', '5']).cluster,
      { endpoints: ['http://127.0.0.1:2379', 'http://127.0.0.1:22379'], nodeName: 'n1', advertiseHost: 'h1', clusterName: 'prod', leaseTtlSec: 5 },
    );
    assert.deepEqual(serve([], { WHARF_CLUSTER: 'http://e:2379', WHARF_NODE_NAME: 'n2' }).cluster, { endpoints: ['http://e:2379'], nodeName: 'n2' });
    const file = files({ '/c.json': JSON.stringify({ cluster: ['http://e:2379'], nodeName: 'n3', clusterLeaseTtlSec: 3 }) });
    assert.deepEqual(serve(['--config', '/c.json'], {}, file).cluster, { endpoints: ['http://e:2379'], nodeName: 'n3', leaseTtlSec: 3 });
  });

  it('refuses a cluster without a node name, cluster options without --cluster, and bad values', () => {
    usageError(['serve', '--cluster', 'http://e:2379'], {}, noFiles, "--cluster needs --node-name (this node's name, unique in the cluster)");
    usageError(['serve', '--node-name', 'n1', '--advertise-host', 'h'], {}, noFiles, '--node-name, --advertise-host need --cluster (etcd\'s URLs)');
    usageError(['serve', '--cluster', 'etcd:2379', '--node-name', 'n1'], {}, noFiles, /^invalid --cluster: "etcd:2379" \(expected etcd client URLs/);
    usageError(['serve', '--cluster', 'http://e:2379', '--node-name', 'a/b'], {}, noFiles, /^invalid --node-name: "a\/b"/);
    usageError(['serve', '--cluster', 'http://e:2379', '--node-name', 'n1', '--cluster-lease-ttl', '0'], {}, noFiles,
      /^invalid --cluster-lease-ttl: "0" \(expected a whole number of seconds from 1 to 3600\)/);
  });

  it('documents every cluster option in serve --help', () => {
    for (const flag of ['--cluster', '--node-name', '--advertise-host', '--cluster-name', '--cluster-lease-ttl']) assert.ok(serveHelpText.includes(flag), flag);
  });
});
