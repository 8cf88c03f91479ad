import type { LoggerService } from '@nestjs/common';

export interface LogLine {
  level: 'log' | 'error' | 'warn' | 'debug' | 'verbose' | 'fatal';
  message: string;
  context: string | undefined;
  stack?: string;
}

/** Records what the library logs, so tests can check that an item or a service is named. */
export class CapturingLogger implements LoggerService {
  readonly lines: LogLine[] = [];

  log(message: unknown, context?: string): void {
    this.push('log', message, [context]);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.push('error', message, rest);
  }
  warn(message: unknown, context?: string): void {
    this.push('warn', message, [context]);
  }
  debug(message: unknown, context?: string): void {
    this.push('debug', message, [context]);
  }
  verbose(message: unknown, context?: string): void {
    this.push('verbose', message, [context]);
  }
  fatal(message: unknown, context?: string): void {
    this.push('fatal', message, [context]);
  }

  /** Lines at `level` written with the library's context. */
  messages(level?: LogLine['level']): string[] {
    return this.lines.filter((l) => l.context === 'BackgroundWork' && (level === undefined || l.level === level)).map((l) => l.message);
  }

  private push(level: LogLine['level'], message: unknown, rest: unknown[]): void {
    const strings = rest.filter((r): r is string => typeof r === 'string');
    // Nest calls error(message, stack, context): the context is the last string.
    const context = strings.length > 0 ? strings.at(-1) : undefined;
    const stack = level === 'error' && strings.length > 1 ? strings[0] : undefined;
    this.lines.push({ level, message: String(message), context, stack });
  }
}
