import { describe, expect, it } from 'vitest';
import { explainVerification } from '../../src/ui/realNetwork';
import type { TlsReport } from '../../src/net/link';

const certificate = {
  subject: 'CN=mx1.example.net',
  issuer: 'CN=mx1.example.net',
  validFrom: 'Mar 10 09:00:00 2026 GMT',
  validTo: 'Mar 10 09:00:00 2027 GMT',
  fingerprint256: 'AB:CD',
  san: ['DNS:mx1.example.net'],
};

describe('explainVerification', () => {
  it('says a self-signed certificate is self-signed, names it, and keeps the code', () => {
    const report: TlsReport = { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', certificate, authorized: false, authorizationError: 'DEPTH_ZERO_SELF_SIGNED_CERT' };
    const explained = explainVerification(report);
    expect(explained.authorizationError).toBe(
      'self-signed: the server signed its own certificate, so no authority vouches for it (certificate CN=mx1.example.net, issued by CN=mx1.example.net) [DEPTH_ZERO_SELF_SIGNED_CERT]',
    );
    expect(explained.authorized).toBe(false);
    expect(report.authorizationError).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
  });

  it('leaves a verified report alone and words an unknown code as not verified', () => {
    const verified: TlsReport = { protocol: 'TLSv1.3', cipher: 'X', certificate, authorized: true };
    expect(explainVerification(verified)).toBe(verified);
    const odd = explainVerification({ protocol: 'TLSv1.2', cipher: 'X', certificate: null, authorized: false, authorizationError: 'SOMETHING_NEW' });
    expect(odd.authorizationError).toBe('not verified [SOMETHING_NEW]');
  });
});
