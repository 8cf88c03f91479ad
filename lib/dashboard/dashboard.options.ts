import type { CanActivate, ModuleMetadata, Type } from '@nestjs/common';
import { checkBoolean, checkObject, checkString, describe } from '../validation.js';

/** Options of `BackgroundWorkDashboardModule.forRoot`. Every field is checked when it is called. */
export interface BackgroundWorkDashboardOptions {
  /** Where the page is served. Default `'/background'` (under the app's global prefix, if it has one). */
  path?: string;
  /** No retry or cancel: the buttons are not shown and the actions answer 403. Default true. */
  readOnly?: boolean;
  /**
   * Who may see the page (and, when writable, act on it). Without one, only requests from this machine to a
   * loopback host name are let in (Hangfire's LocalRequestsOnly). A guard class is resolved in the dashboard's
   * module: list what it injects in `imports`, or make that global.
   */
  guard?: CanActivate | Type<CanActivate>;
  /** Modules that the guard class needs. */
  imports?: ModuleMetadata['imports'];
}

export interface ResolvedDashboardOptions {
  path: string;
  readOnly: boolean;
  guard: CanActivate | Type<CanActivate> | undefined;
  imports: NonNullable<ModuleMetadata['imports']>;
}

const KEYS = ['path', 'readOnly', 'guard', 'imports'] as const;
const PATH = 'BackgroundWorkDashboardModule.forRoot options';

export function resolveDashboardOptions(value: unknown): ResolvedDashboardOptions {
  const o = value === undefined ? {} : checkObject(PATH, value, KEYS);
  let path = '/background';
  if (o.path !== undefined) {
    path = checkString(`${PATH}.path`, o.path);
    // A plain route: no parameters or wildcards that would make the page's own URLs ambiguous.
    if (!/^(\/[A-Za-z0-9._~-]+)+$/.test(path) || path.split('/').some((segment) => segment === '.' || segment === '..')) {
      throw new RangeError(`${PATH}.path must be a path such as '/background' or '/admin/jobs' (segments of letters, digits and - . _ ~, no trailing slash), got ${describe(path)}`);
    }
  }
  const guard = o.guard;
  if (guard !== undefined) {
    const isClass = typeof guard === 'function';
    const isInstance = guard !== null && typeof guard === 'object' && typeof (guard as CanActivate).canActivate === 'function';
    if (!isClass && !isInstance) throw new TypeError(`${PATH}.guard must be a guard class or an object with a canActivate() method, got ${describe(guard)}`);
  }
  if (o.imports !== undefined && !Array.isArray(o.imports)) throw new TypeError(`${PATH}.imports must be an array of modules, got ${describe(o.imports)}`);
  return {
    path,
    readOnly: o.readOnly === undefined ? true : checkBoolean(`${PATH}.readOnly`, o.readOnly),
    guard: guard as ResolvedDashboardOptions['guard'],
    imports: (o.imports as ResolvedDashboardOptions['imports'] | undefined) ?? [],
  };
}
