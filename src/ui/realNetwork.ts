/**
 * Real-network mode for the page: `/config.json` (served by `npm start`) says where the bridge
 * is; the lab's `real` option then opens links and asks DNS through it. Loaded on demand, only
 * when the page was started with a bridge.
 */
import type { RealNetwork } from '../lab/lab';
import type { Link, LinkEventName, LinkEvents, StartTlsOptions, TlsReport } from '../net/link';
import type { RealModeConfig } from '../net/bridgeClient';
import type { DnsRecord } from '../sim/dns';

export type RealConfigRead = { ok: true; config: RealModeConfig } | { ok: false; reason: string };

/** Asks the server that sent the page for `/config.json`; never throws, and gives up after `timeoutMs`. */
export async function fetchRealConfig(timeoutMs = 2000): Promise<RealConfigRead> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await fetch(new URL('config.json', document.baseURI), { signal: controller.signal, cache: 'no-store' });
    if (!response.ok) {
      return { ok: false, reason: 'this page was served without a bridge to real servers (start it with npm start to get one)' };
    }
    const config = (await response.json()) as Partial<RealModeConfig>;
    if (typeof config.bridgeUrl !== 'string' || config.bridgeUrl === '') {
      return { ok: false, reason: 'the server that sent this page runs no bridge to real servers' };
    }
    return { ok: true, config: { bridgeUrl: config.bridgeUrl, localSmtpd: Array.isArray(config.localSmtpd) ? config.localSmtpd : [] } };
  } catch {
    return { ok: false, reason: 'the page could not ask its server about a bridge (no /config.json)' };
  } finally {
    clearTimeout(timer);
  }
}

function shortData(record: DnsRecord): string {
  switch (record.type) {
    case 'MX':
      return `${record.preference} ${record.exchange.replace(/\.?$/, '.')}`;
    case 'A':
    case 'AAAA':
      return record.address;
    case 'TXT':
      return `"${record.text}"`;
    case 'TLSA':
      return `${record.usage} ${record.selector} ${record.matchingType} ${record.certificateData}`;
    default:
      return '';
  }
}

/**
 * OpenSSL's verification codes (as Node reports them) in a learner's words. A real server's
 * certificate is often not one a browser would trust (a self-signed one on a test box, a name
 * that does not match): SMTP senders carry on anyway unless MTA-STS or DANE says otherwise
 * (RFC 8461, RFC 7672), so the learner should see why, not a code.
 */
const VERIFY_WORDS: Readonly<Record<string, string>> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed: the server signed its own certificate, so no authority vouches for it',
  SELF_SIGNED_CERT_IN_CHAIN: 'the chain ends in a self-signed certificate the bridge does not trust',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'issued by an authority the bridge does not know (is the chain incomplete?)',
  UNABLE_TO_GET_ISSUER_CERT: 'issued by an authority the bridge does not know',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'issued by an authority the bridge does not know',
  CERT_HAS_EXPIRED: 'expired',
  CERT_NOT_YET_VALID: 'not valid yet',
  ERR_TLS_CERT_ALTNAME_INVALID: 'made out for another name than the host connected to',
  CERT_REVOKED: 'revoked by its issuer',
};

/** The report with `authorizationError` in plain words naming the certificate; the code is kept in brackets. */
export function explainVerification(report: TlsReport): TlsReport {
  if (report.authorized || !report.authorizationError) return report;
  const code = report.authorizationError;
  const words = VERIFY_WORDS[code] ?? 'not verified';
  const cert = report.certificate;
  const which = cert ? ` (certificate ${cert.subject}, issued by ${cert.issuer})` : '';
  return { ...report, authorizationError: `${words}${which} [${code}]` };
}

/** The bridge's link, with its TLS reports explained (the `tls` event, startTls, and an implicit-TLS report). */
function explained<L extends Link & { readonly tlsReport?: TlsReport | null }>(link: L): L {
  return new Proxy(link, {
    get(target, property) {
      if (property === 'tlsReport') return target.tlsReport ? explainVerification(target.tlsReport) : target.tlsReport;
      if (property === 'startTls') return (options?: StartTlsOptions) => target.startTls(options).then(explainVerification);
      if (property === 'on') {
        return <E extends LinkEventName>(event: E, listener: (payload: LinkEvents[E]) => void) =>
          target.on(event, event === 'tls' ? (((report: TlsReport) => listener(explainVerification(report) as LinkEvents[E])) as (payload: LinkEvents[E]) => void) : listener);
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** The lab's `real` option over the bridge at `bridgeUrl`. */
export async function realNetwork(bridgeUrl: string): Promise<RealNetwork> {
  const { connectViaBridge, resolveViaBridge } = await import('../net/wsLink');
  return {
    connect: async (host, port, tls) => explained(await connectViaBridge(bridgeUrl, { host, port, tls })),
    async dig(name, type, short) {
      const result = await resolveViaBridge(bridgeUrl, name, type, { short });
      if (!result.ok) return result;
      // REFUSED is a real resolver's answer the record has no word for: it failed, like SERVFAIL.
      const status = result.status === 'REFUSED' ? 'SERVFAIL' : result.status;
      return { ok: true, text: result.text.replace(/\n$/, ''), status, answers: result.answers.map(shortData) };
    },
  };
}
