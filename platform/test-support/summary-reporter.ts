import type { RunnerTask, RunnerTestFile } from 'vitest';
import type { Reporter } from 'vitest/node';

/** Test counts of one run. */
export interface RunCounts {
  passed: number;
  failed: number;
  skipped: number;
}

/**
 * Counts tests by outcome. A test file that failed before any of its tests ran (an import or
 * beforeAll error) counts as one failed test, so the totals never read "0 failed" for a broken run.
 */
export function countTests(files: readonly RunnerTestFile[]): RunCounts {
  const counts: RunCounts = { passed: 0, failed: 0, skipped: 0 };
  const visit = (task: RunnerTask): boolean => {
    if (task.type === 'suite') {
      let anyFailed = false;
      for (const child of task.tasks) anyFailed = visit(child) || anyFailed;
      if (task.result?.state === 'fail' && !anyFailed) {
        counts.failed++;
        return true;
      }
      return anyFailed;
    }
    const state = task.result?.state;
    if (task.mode === 'skip' || task.mode === 'todo' || state === 'skip' || state === 'todo') counts.skipped++;
    else if (state === 'pass') counts.passed++;
    else if (state === 'fail') {
      counts.failed++;
      return true;
    } else counts.skipped++; // never ran (bail, interrupted run)
    return false;
  };
  // A file is a suite of type 'suite' in the runner's task tree.
  for (const file of files) visit(file);
  return counts;
}

/**
 * Prints `N passed, N failed, N skipped` as the very last line of the run. Listed after 'default'
 * in vitest.config.ts: reporters are called in order, so this line follows the default summary.
 */
export default class SummaryReporter implements Reporter {
  onFinished(files: RunnerTestFile[] = []): void {
    const { passed, failed, skipped } = countTests(files);
    process.stdout.write(`${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
