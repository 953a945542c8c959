/**
 * Putting the lab's world where a lesson starts. `createLab({ start })` does this for a new lab;
 * the page keeps one lab for its whole life (the terminal, the panels and a share link's replay
 * are wired to it), so opening a lesson restarts that lab from the lesson's start instead.
 */
import type { Lab, LabStart } from '../../lab/lab';
import type { LessonStart } from '../../course/schema';

/** What of a lesson's start the lab needs: the hosts switched down and the clock moved on. */
export function labStartOf(start: LessonStart): LabStart {
  return {
    ...(start.hostsDown ? { hostsDown: start.hostsDown } : {}),
    ...(start.clock && start.clock !== '0' ? { clock: start.clock } : {}),
  };
}

/** A fresh world set up as the lesson wants it; typing `reset` later returns to the same start. */
export async function restartLab(lab: Lab, start: LessonStart): Promise<void> {
  lab.restart(labStartOf(start));
}
