/**
 * The learner's progress per lesson, from the course's progress file (contract: TEAM.md 3) and
 * the lessons' exercise ids (contract 4). Pure functions, no DOM.
 */

export interface ILesson {
  path: string;
  stem: string;
  number: number;
  title: string;
  exercises: string[];
  error?: string | null;
}

export interface IExerciseProgress {
  status: 'solved' | 'attempted';
  attempts: number;
  updated: string;
}

export type LessonState = 'not-started' | 'in-progress' | 'done' | 'reading';

export interface ILessonSummary {
  lesson: ILesson;
  total: number;
  solved: number;
  attempted: number;
  state: LessonState;
  /** The first exercise not solved yet, if any. */
  next: string | null;
  /** The newest `updated` among its exercises (ISO text), if any. */
  lastUpdated: string | null;
}

export interface ICourseSummary {
  lessons: ILessonSummary[];
  solved: number;
  total: number;
  /** The lesson to continue with: the first one started but not done, else the first not done. */
  current: string | null;
}

export function summariseLesson(
  lesson: ILesson,
  progress: Record<string, IExerciseProgress>
): ILessonSummary {
  // Exercises the notebook lists, plus any recorded for this lesson that it no longer lists
  // (a learner's work is never hidden because a notebook changed).
  const ids = [...lesson.exercises];
  const prefix = `${lesson.stem}:`;
  for (const key of Object.keys(progress).sort()) {
    if (key.startsWith(prefix) && !ids.includes(key)) {
      ids.push(key);
    }
  }
  let solved = 0;
  let attempted = 0;
  let next: string | null = null;
  let lastUpdated: string | null = null;
  for (const id of ids) {
    const entry = progress[id];
    if (entry?.status === 'solved') {
      solved += 1;
    } else {
      if (entry?.status === 'attempted') {
        attempted += 1;
      }
      next = next ?? id;
    }
    if (entry?.updated && (lastUpdated === null || entry.updated > lastUpdated)) {
      lastUpdated = entry.updated;
    }
  }
  let state: LessonState;
  if (ids.length === 0) {
    state = 'reading';
  } else if (solved === ids.length) {
    state = 'done';
  } else if (solved + attempted > 0) {
    state = 'in-progress';
  } else {
    state = 'not-started';
  }
  return {
    lesson,
    total: ids.length,
    solved,
    attempted,
    state,
    next,
    lastUpdated
  };
}

export function summariseCourse(
  lessons: ILesson[],
  progress: Record<string, IExerciseProgress>
): ICourseSummary {
  const summaries = [...lessons]
    .sort((a, b) => a.number - b.number || a.stem.localeCompare(b.stem))
    .map(lesson => summariseLesson(lesson, progress));
  const started = summaries.find(s => s.state === 'in-progress');
  const notDone = summaries.find(
    s => s.state === 'not-started' || s.state === 'in-progress'
  );
  return {
    lessons: summaries,
    solved: summaries.reduce((n, s) => n + s.solved, 0),
    total: summaries.reduce((n, s) => n + s.total, 0),
    current: (started ?? notDone)?.lesson.stem ?? null
  };
}
