// TLS material for smtpd: a certificate generated at start, or one read from files.
import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { generate } from 'selfsigned';

export interface CertificatePair {
  /** PEM private key. */
  key: string;
  /** PEM certificate (chain). */
  cert: string;
}

/** One line a log can show: who the certificate names and until when it is valid. */
export function describeCertificate(pair: CertificatePair): string {
  const x509 = new X509Certificate(pair.cert);
  return `${x509.subject.replace(/\n/g, ', ')}; ${x509.subjectAltName ?? 'no subjectAltName'}; valid ${x509.validFrom} to ${x509.validTo}`;
}

const day = 24 * 60 * 60 * 1000;

/**
 * A self-signed certificate for `hostname`. Self-signed means no client trusts it unless told
 * to (`curl -k`, `rejectUnauthorized: false`): that is the honest state of a lab server, and a
 * client that refuses it is doing its job. EC P-256 keys are generated in milliseconds, so
 * every start gets a fresh key.
 */
export async function selfSignedCertificate(hostname: string, now: Date = new Date()): Promise<CertificatePair> {
  const pems = await generate([{ name: 'commonName', value: hostname }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - day),
    notAfterDate: new Date(now.getTime() + 365 * day),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: subjectAltNames(hostname) },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}

/**
 * The certificate of the `tls-broken` persona's `untrusted` variant: wrong on every count a
 * verifying client checks (RFC 6125 name, validity period, issuer), so no client that verifies
 * can accept it. The name is a reserved one (RFC 2606 `.invalid`) that never matches the
 * host a client connected to.
 */
export async function untrustedCertificate(now: Date = new Date()): Promise<CertificatePair> {
  const wrongName = 'wrong-name.invalid';
  const pems = await generate([{ name: 'commonName', value: wrongName }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 400 * day),
    // Expired a month ago.
    notAfterDate: new Date(now.getTime() - 30 * day),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: wrongName }] },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}

/** Reads `--cert`/`--key` files, with an error that names the file that is wrong. */
export async function certificateFromFiles(certPath: string, keyPath: string): Promise<CertificatePair> {
  const read = async (path: string, what: string): Promise<string> => {
    try {
      return await readFile(path, 'utf8');
    } catch (error) {
      throw new Error(`cannot read ${what} file ${path}: ${(error as Error).message}`);
    }
  };
  const pair = { cert: await read(certPath, 'certificate'), key: await read(keyPath, 'key') };
  try {
    new X509Certificate(pair.cert);
  } catch (error) {
    throw new Error(`${certPath} is not a PEM certificate: ${(error as Error).message}`);
  }
  return pair;
}

function subjectAltNames(hostname: string): Array<{ type: 2; value: string } | { type: 7; ip: string }> {
  const names: Array<{ type: 2; value: string } | { type: 7; ip: string }> = [{ type: 2, value: hostname }];
  // Loopback too, so a client that verifies and connects to 127.0.0.1 or localhost only has
  // the issuer to complain about.
  if (hostname !== 'localhost') names.push({ type: 2, value: 'localhost' });
  names.push({ type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' });
  return names;
}
