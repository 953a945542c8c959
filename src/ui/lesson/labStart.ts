/**
 * Putting the lab's world where a lesson starts. `createLab({ start })` does this for a new lab;
 * the page keeps one lab for its whole life (the terminal, the panels and a share link's replay
 * are wired to it), so opening a lesson resets that lab's world instead of making a new one.
 */
import type { Lab } from '../../lab/lab';
import type { LessonStart } from '../../course/schema';
import { parseDuration } from '../../sim/clock';

/** Switches the lesson's hosts down and moves the clock on, in the world as it is now. */
export function applyLessonStart(lab: Lab, start: LessonStart): void {
  for (const [host, mode] of Object.entries(start.hostsDown ?? {})) lab.world.setHostDown(host, mode);
  if (start.clock && start.clock !== '0') {
    const advance = parseDuration(start.clock.replace(/^\+/, ''));
    if (advance.ok) lab.world.advance(advance.ms);
  }
}

/**
 * A fresh world set up as the lesson wants it. The shell's own `reset` does the resetting (it
 * closes any open session, empties mailboxes and queue, and starts a new record), so the lab
 * behaves exactly as when the learner types `reset`; an open session is hung up first so the
 * word is read by the shell, not sent to a server.
 */
export async function restartLab(lab: Lab, start: LessonStart): Promise<void> {
  if (lab.connectedTo) lab.escape();
  await lab.input('reset');
  applyLessonStart(lab, start);
}
