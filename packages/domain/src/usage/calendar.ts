/**
 * Budgets run per calendar month in UTC: a month starts at 00:00 UTC on its first day. These
 * are the one definition both the stores and their callers use.
 */

/** 00:00 UTC on the first day of `at`'s UTC month. */
export const monthStartUtc = (at: Date): Date => new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1))

/**
 * The same instant one UTC calendar month after `monthStart` (the exclusive end of the month it
 * starts). For a `monthStartUtc` value that is the first of the next month; a day past the next
 * month's end rolls over as `Date.UTC` does (Jan 31 → Mar 3 or 2), so pass month starts.
 */
export const nextMonthUtc = (monthStart: Date): Date =>
  new Date(
    Date.UTC(
      monthStart.getUTCFullYear(),
      monthStart.getUTCMonth() + 1,
      monthStart.getUTCDate(),
      monthStart.getUTCHours(),
      monthStart.getUTCMinutes(),
      monthStart.getUTCSeconds(),
      monthStart.getUTCMilliseconds()
    )
  )
