/**
 * `Link`: one SMTP connection seen from the client side, whatever carries it: the simulated
 * world in-process (`simLink.ts`) or a real TCP connection through the bridge (`wsLink`).
 *
 * It is deliberately raw: `send` writes text as given (CRLFs included), so a learner or the
 * autopilot can pipeline a batch of commands or stream DATA exactly as it goes on the wire, and
 * `data` hands back the server's bytes as they come, in any chunking (use `ReplyParser`).
 */

import type { CertificateReport, TlsReport } from '../protocol/tls';

/** A certificate as the TLS stack reports it: the bridge's wire form is the one shape. */
export type CertificateInfo = CertificateReport;

/** What the client learnt from a completed TLS handshake. */
export type { TlsReport };

export interface StartTlsOptions {
  /** The name to check the certificate against (SNI); default the host connected to. */
  serverName?: string;
}

export type ClosedBy = 'server' | 'client' | 'bridge';

export interface LinkEvents {
  /** Text from the server, as received. */
  data: string;
  /** The handshake finished (authorized or not). */
  tls: TlsReport;
  /** The connection is gone; nothing more will come. */
  close: { by: ClosedBy; reason: string };
}

export type LinkEventName = keyof LinkEvents;

export interface Link {
  /** The host and port this link is connected to. */
  readonly host: string;
  readonly port: number;
  /** True once TLS is up on this link. */
  readonly secure: boolean;
  /** True once the connection is closed (by either side). */
  readonly closed: boolean;
  /**
   * The server machine's state when the server is simulated (e.g. "rcpt"); a real server's
   * state cannot be seen from the wire, so real links leave it out.
   */
  readonly serverState?: string;
  /** Write raw text (CRLF line endings included). Ignored once closed. */
  send(text: string): void;
  /**
   * Run the TLS handshake (after the server's 220 to STARTTLS). Resolves with the report, also
   * when the certificate does not verify (`authorized: false`); rejects when the handshake
   * fails, after which the link is closed.
   */
  startTls(options?: StartTlsOptions): Promise<TlsReport>;
  /** Hang up (like closing the socket without QUIT). */
  close(): void;
  /** Listen; returns the function that stops listening. */
  on<E extends LinkEventName>(event: E, listener: (payload: LinkEvents[E]) => void): () => void;
}

/** Why a connection could not be made. */
export class ConnectError extends Error {
  readonly code: 'refused' | 'timeout' | 'unknown-host' | 'policy' | 'failed';
  constructor(code: ConnectError['code'], message: string) {
    super(message);
    this.name = 'ConnectError';
    this.code = code;
  }
}

/** Open a link to `host:port`; rejects with a `ConnectError`. */
export type LinkFactory = (host: string, port: number) => Promise<Link>;

/** A small typed listener registry that Link implementations share. */
export class LinkEmitter {
  private listeners: { [E in LinkEventName]: Set<(payload: LinkEvents[E]) => void> } = {
    data: new Set(),
    tls: new Set(),
    close: new Set(),
  };

  on<E extends LinkEventName>(event: E, listener: (payload: LinkEvents[E]) => void): () => void {
    const set = this.listeners[event] as Set<(payload: LinkEvents[E]) => void>;
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  emit<E extends LinkEventName>(event: E, payload: LinkEvents[E]): void {
    for (const listener of [...(this.listeners[event] as Set<(payload: LinkEvents[E]) => void>)]) listener(payload);
  }
}
