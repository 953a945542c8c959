/**
 * What a TLS client learns from a handshake, in one shape for every carrier: the bridge sends
 * it over the WebSocket (`net/wire.ts`), the simulated world makes it up (`sim/worldConnection.ts`),
 * and the terminal prints it like `openssl s_client` does.
 */

export interface CertificateReport {
  /** Distinguished name as `CN=..., O=...`. */
  subject: string;
  issuer: string;
  /** As OpenSSL prints them, e.g. "Jan  1 00:00:00 2030 GMT". */
  validFrom: string;
  validTo: string;
  /** SHA-256 over the DER certificate, colon-separated upper-case hex. */
  fingerprint256: string;
  /** subjectAltName entries, e.g. ["DNS:mx.example.net", "IP Address:127.0.0.1"]. */
  san: string[];
}

export interface TlsReport {
  /** e.g. "TLSv1.3". */
  protocol: string;
  /** OpenSSL cipher name, e.g. "TLS_AES_256_GCM_SHA384". */
  cipher: string;
  certificate: CertificateReport | null;
  /** The chain verified against the trusted CAs and the certificate matches the server name. */
  authorized: boolean;
  /** Why not, e.g. "DEPTH_ZERO_SELF_SIGNED_CERT", "ERR_TLS_CERT_ALTNAME_INVALID". */
  authorizationError?: string;
}
