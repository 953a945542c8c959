/** The simulated world's building blocks: DNS, dig, clock, default topology, mailboxes, events, DSNs. */
export * from './dns';
export * from './dig';
export * from './clock';
export * from './topology';
export * from './mailbox';
export * from './events';
export * from './dsn';
export * from './spf';
