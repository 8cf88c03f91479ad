/** Injection token of a dashboard's validated options. */
export const DASHBOARD_OPTIONS = Symbol('BACKGROUND_WORK_DASHBOARD_OPTIONS');
