import type { Lab } from '../../lab/lab';
import type { LessonStart } from '../../course/schema';

/** What the app gives the lesson panel (and the panel passes on to the guide it loads). */
export interface LessonPanelProps {
  /** The page's lab, undefined until it has loaded. */
  lab?: Lab;
  /** Resets the lab's world to a lesson's start; without it the shell's own `reset` is used. */
  restart?: (start: LessonStart) => Promise<void>;
  /** Runs a step's check once the terminal shows every line printed so far (the autopilot is paced). */
  afterOutput?: (check: () => void) => void;
}
