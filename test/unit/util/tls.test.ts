import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getCiphers } from 'node:tls';
import { TLS_CIPHERS, certLoginName, parseSubjectAltNames, peerCertificateRejected } from '../../../src/util/tls.js';

describe('tls: EXTERNAL user names from certificates', () => {
  it('common_name: the subject CN, the last of several', () => {
    assert.equal(certLoginName({ subject: { CN: 'alice', O: 'x' } }, 'common_name'), 'alice');
    assert.equal(certLoginName({ subject: { CN: ['outer', 'inner'] } }, 'common_name'), 'inner');
    assert.equal(certLoginName({ subject: { O: 'x' } }, 'common_name'), undefined);
    assert.equal(certLoginName({}, 'common_name'), undefined);
  });

  it('subject_alternative_name: the first DNS name, else the first email', () => {
    const from = 'subject_alternative_name';
    assert.equal(certLoginName({ subjectaltname: 'email:a@b.example, DNS:svc.example, DNS:other.example' }, from), 'svc.example');
    assert.equal(certLoginName({ subjectaltname: 'IP Address:127.0.0.1, email:a@b.example' }, from), 'a@b.example');
    assert.equal(certLoginName({ subjectaltname: 'IP Address:127.0.0.1' }, from), undefined);
    assert.equal(certLoginName({ subject: { CN: 'alice' } }, from), undefined);
  });

  it('parses Node\'s quoted SAN values', () => {
    assert.deepEqual(parseSubjectAltNames('DNS:"a,b.example", email:x@y'), [
      { type: 'DNS', value: 'a,b.example' },
      { type: 'email', value: 'x@y' },
    ]);
    assert.deepEqual(parseSubjectAltNames(''), []);
  });
});

describe('tls: policy', () => {
  it('offers only forward-secret AEAD suites that this OpenSSL knows', () => {
    const known = new Set(getCiphers().map((c) => c.toUpperCase()));
    for (const suite of TLS_CIPHERS.split(':')) {
      assert.ok(suite.startsWith('TLS_') || suite.startsWith('ECDHE-'), `${suite}: forward secrecy`);
      assert.match(suite, /GCM|CHACHA20/, `${suite}: AEAD`);
      if (!suite.startsWith('TLS_')) assert.ok(known.has(suite), `${suite} unknown to OpenSSL`);
    }
  });

  it('verify_peer without fail_if_no_peer_cert: no certificate passes, a bad one does not', () => {
    const s = { certFile: 'c', keyFile: 'k', verifyPeer: true };
    assert.equal(peerCertificateRejected({ authorized: false, getPeerCertificate: () => ({}) }, s), false);
    assert.equal(peerCertificateRejected({ authorized: false, getPeerCertificate: () => ({ subject: {} }) }, s), true);
    assert.equal(peerCertificateRejected({ authorized: true, getPeerCertificate: () => ({ subject: {} }) }, s), false);
    assert.equal(peerCertificateRejected({ authorized: false, getPeerCertificate: () => ({ subject: {} }) }, { ...s, verifyPeer: false }), false);
  });
});
