import { Logger } from '@nestjs/common';

/**
 * For the enclosing `describe`: records the arguments of every `Logger#error` call instead of
 * printing them, and restores the logger after each test. Returns the recorded calls of the
 * current test.
 */
export function captureErrorLogs(): () => unknown[][] {
  let logged: unknown[][] = [];
  beforeEach(() => {
    logged = [];
    vi.spyOn(Logger.prototype, 'error').mockImplementation(
      (...args: unknown[]) => {
        logged.push(args);
      },
    );
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });
  return () => logged;
}
