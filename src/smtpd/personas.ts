// The personas of the simulated world, as smtpd serves them: real time, real randomness for
// queue ids, and command-line flags mapped onto persona settings.
import { randomBytes } from 'node:crypto';
import { personas, createBackend, type PersonaBackend, type PersonaDefinition, type SettingValue } from '../sim/personas';
import type { PersonaSummary } from './args';
import { defaultZones } from '../sim/topology';

export interface PersonaOptions {
  /** `--greylist-delay`: the persona's greylisting delay, in real milliseconds. */
  greylistDelayMs?: number;
  /** `--variant`: the value of the persona's choice setting (e.g. tls-broken's failure mode). */
  variant?: string;
  /** `--hostname`: the name in banner, EHLO and certificate. */
  hostname?: string;
}

/** The `down` persona exists only inside the simulated world (nothing listens there). */
function definitions(): PersonaDefinition[] {
  return Object.values(personas as Record<string, PersonaDefinition>);
}

function definitionOf(id: string): PersonaDefinition {
  const definition = (personas as Record<string, PersonaDefinition | undefined>)[id];
  if (!definition) throw new Error(`unknown persona '${id}'; one of: ${definitions().map((p) => p.id).join(', ')}`);
  return definition;
}

/** The setting `--variant` sets: the persona's choice setting named `variant` (tls-broken, content-filter). */
function variantSetting(definition: PersonaDefinition) {
  return definition.settingSpecs.find((spec) => spec.name === 'variant' && spec.kind === 'choice' && spec.choices && spec.choices.length > 0);
}

/** The setting `--greylist-delay` sets: the greylisting persona's `delayMs`. */
function greylistSetting(definition: PersonaDefinition) {
  return definition.settingSpecs.find((spec) => spec.kind === 'duration' && (spec.name === 'delayMs' || /gr[ea]ylist/i.test(spec.name)));
}

export function personaVariants(id: string): readonly string[] {
  return variantSetting(definitionOf(id))?.choices ?? [];
}

export function personaSummaries(): PersonaSummary[] {
  return definitions().map((definition) => ({
    id: definition.id,
    description: definition.description,
    variants: variantSetting(definition)?.choices ?? [],
  }));
}

/** The settings the flags ask for, on top of the persona's defaults. */
export function personaSettings(id: string, options: PersonaOptions): Record<string, SettingValue> {
  const definition = definitionOf(id);
  const settings: Record<string, SettingValue> = {};
  if (options.variant !== undefined) {
    const spec = variantSetting(definition);
    if (!spec || !spec.choices!.includes(options.variant)) {
      throw new Error(`persona '${id}' has no variant '${options.variant}'${spec ? `; one of: ${spec.choices!.join(', ')}` : ''}`);
    }
    settings[spec.name] = options.variant;
  }
  if (options.greylistDelayMs !== undefined) {
    const spec = greylistSetting(definition);
    // Only the greylisting persona waits; for the others the flag has nothing to change.
    if (spec) settings[spec.name] = options.greylistDelayMs;
  }
  return settings;
}

const QUEUE_ID_OCTETS = 5;
/** Random octets drawn in one call for 256 ids: one call to the system's generator per id was a cost per message. */
let randomPool = Buffer.alloc(0);
let randomOffset = 0;

/** Queue ids from real randomness: a restarted server must not hand out the same ids again. */
function randomQueueId(): string {
  if (randomOffset + QUEUE_ID_OCTETS > randomPool.length) {
    randomPool = randomBytes(QUEUE_ID_OCTETS * 256);
    randomOffset = 0;
  }
  const id = randomPool.toString('hex', randomOffset, randomOffset + QUEUE_ID_OCTETS).toUpperCase();
  randomOffset += QUEUE_ID_OCTETS;
  return id;
}

export function personaBackend(id: string, options: PersonaOptions): PersonaBackend {
  const definition = definitionOf(id);
  // No sink: smtpd stores each accepted message once, with its whole envelope, from the
  // machine's `accepted` event (the sink is called once per recipient).
  return createBackend(definition.id, personaSettings(id, options), {
    hostname: options.hostname ?? defaultHostname(definition),
    now: () => Date.now(),
    idSource: randomQueueId,
    // The content filter's SPF and DMARC rules read the simulated world's DNS: a real client
    // connecting from 127.0.0.1 is listed by no domain there, so its mail fails those checks.
    zones: defaultZones,
  });
}

/**
 * The name a persona gives when `--hostname` is not set: every persona serves example.net by
 * default, and mx1.example.net is that domain's mail host in the simulated world.
 */
function defaultHostname(_definition: PersonaDefinition): string {
  return 'mx1.example.net';
}

/** The persona's choice setting value in effect (for transports that act on it). */
export function variantOf(backend: PersonaBackend): string | undefined {
  const definition = definitionOf(backend.personaId);
  const spec = variantSetting(definition);
  const value = spec ? backend.settings[spec.name] : undefined;
  return typeof value === 'string' ? value : undefined;
}
