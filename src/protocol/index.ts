/** The pure SMTP protocol core: everything here runs in the browser and in Node alike. */
export * from './reply';
export * from './replies';
export * from './codes';
export * from './address';
export * from './params';
export * from './command';
export * from './framing';
export * from './dotstuff';
export * from './sasl';
export * from './base64';
export * from './utf8';
export * from './limits';
export * from './trace';
export * from './tls';
