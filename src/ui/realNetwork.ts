/**
 * Real-network mode for the page: `/config.json` (served by `npm start`) says where the bridge
 * is; the lab's `real` option then opens links and asks DNS through it. Loaded on demand, only
 * when the page was started with a bridge.
 */
import type { RealNetwork } from '../lab/lab';
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

/** The lab's `real` option over the bridge at `bridgeUrl`. */
export async function realNetwork(bridgeUrl: string): Promise<RealNetwork> {
  const { connectViaBridge, resolveViaBridge } = await import('../net/wsLink');
  return {
    connect: (host, port, tls) => connectViaBridge(bridgeUrl, { host, port, tls }),
    async dig(name, type, short) {
      const result = await resolveViaBridge(bridgeUrl, name, type, { short });
      if (!result.ok) return result;
      // REFUSED is a real resolver's answer the record has no word for: it failed, like SERVFAIL.
      const status = result.status === 'REFUSED' ? 'SERVFAIL' : result.status;
      return { ok: true, text: result.text.replace(/\n$/, ''), status, answers: result.answers.map(shortData) };
    },
  };
}
