/**
 * Size and time limits from RFC 5321 §4.5.3 and the extensions this project implements.
 * Sizes are octets (UTF-8 bytes), lines include their CRLF unless the name says otherwise.
 */

/** §4.5.3.1.1: local part of a mailbox. */
export const MAX_LOCAL_PART_OCTETS = 64;
/** §4.5.3.1.2: a domain name or number. */
export const MAX_DOMAIN_OCTETS = 255;
/** RFC 1035 §2.3.4: one label of a domain name. */
export const MAX_DOMAIN_LABEL_OCTETS = 63;
/** §4.5.3.1.3: a reverse- or forward-path, including the angle brackets and any source route. */
export const MAX_PATH_OCTETS = 256;
/** §4.5.3.1.4: a command line, including the verb and the CRLF. */
export const MAX_COMMAND_LINE_OCTETS = 512;
/** §4.5.3.1.5: a reply line, including the code and the CRLF. */
export const MAX_REPLY_LINE_OCTETS = 512;
/** §4.5.3.1.6: a line of message text, including the CRLF. */
export const MAX_TEXT_LINE_OCTETS = 1000;
/** §4.5.3.1.8: a server must be able to buffer at least this many recipients per message. */
export const MIN_RECIPIENTS_BUFFER = 100;
/** RFC 4954 §4: an AUTH command line or SASL response line may be this long (including CRLF). */
export const MAX_AUTH_LINE_OCTETS = 12288;
/** RFC 4954 §4 via RFC 4422: SASL mechanism names are 1 to 20 characters. */
export const MAX_SASL_MECHANISM_CHARS = 20;
/** RFC 3461 §4.4: ENVID value, before xtext decoding. */
export const MAX_ENVID_CHARS = 100;
/** RFC 3461 §4.2: ORCPT value, before xtext decoding. */
export const MAX_ORCPT_CHARS = 500;
/** RFC 1870 §3: the SIZE value has at most 20 digits. */
export const MAX_SIZE_DIGITS = 20;

/**
 * §4.5.3.2: minimum timeouts, in milliseconds. Core code measures time with XState delays or an
 * injected clock, so these are plain numbers.
 */
export const Timeouts = {
  /** §4.5.3.2.1: client waiting for the 220 greeting. */
  initialGreetingMs: 5 * 60_000,
  /** §4.5.3.2.2: client waiting for the reply to MAIL. */
  mailMs: 5 * 60_000,
  /** §4.5.3.2.3: client waiting for the reply to RCPT. */
  rcptMs: 5 * 60_000,
  /** §4.5.3.2.4: client waiting for 354 after DATA. */
  dataInitiationMs: 2 * 60_000,
  /** §4.5.3.2.5: client sending each block of message data. */
  dataBlockMs: 3 * 60_000,
  /** §4.5.3.2.6: client waiting for the reply to the final "." (the server may be slow to commit). */
  dataTerminationMs: 10 * 60_000,
  /** §4.5.3.2.7: server waiting for the next command. */
  serverTimeoutMs: 5 * 60_000,
} as const;
