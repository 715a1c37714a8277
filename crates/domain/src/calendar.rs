//! Working days of Kazakhstan and the deadlines of Order 270 §9 counted in them.
//!
//! Holidays, transfers and Kurban Ait are **data** (one TOML file per year, docs/calendar.md): the labour
//! minister moves days off by order each year. A year without a file gets weekends and the fixed-date
//! holidays of the latest known year, with their carry-over, and is marked provisional.
//! Counting (civil-code terms): N working days run from the day after the event; the deadline is the end
//! of the N-th working day, 23:59:59 in Asia/Almaty (resolved through the tz database, never an offset).

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

/// Files shipped with the binary; a file named in configuration replaces the one of its year.
pub const SHIPPED_FILES: [(&str, &str); 3] = [
    ("2025.toml", include_str!("../../../calendar/2025.toml")),
    ("2026.toml", include_str!("../../../calendar/2026.toml")),
    ("2027.toml", include_str!("../../../calendar/2027.toml")),
];

pub const ALMATY: &str = "Asia/Almaty";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("calendar file {file}: {message}")]
    Parse { file: String, message: String },
    #[error("calendar file {file}: date {date} is not in year {year}")]
    WrongYear { file: String, date: Date, year: i16 },
    #[error("time zone Asia/Almaty is not available: {0}")]
    TimeZone(String),
    #[error("a deadline of {0} working days is out of range")]
    Range(u32),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct YearFile {
    year: i16,
    provisional: bool,
    #[serde(default)]
    #[allow(dead_code)]
    source: String,
    holidays: Vec<Date>,
    days_off: Vec<Date>,
    transfers: Vec<Transfer>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Transfer {
    working: Date,
    off: Date,
}

#[derive(Debug, Clone)]
struct Year {
    provisional: bool,
    off: BTreeSet<Date>,
    working_weekend: BTreeSet<Date>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Deadline {
    pub due: Date,
    pub due_at: Timestamp,
    pub provisional: bool,
}

#[derive(Debug, Clone)]
pub struct WorkingDayCalendar {
    years: BTreeMap<i16, Year>,
    /// Month and day of the fixed holidays of the latest file, for years without one.
    fallback_holidays: Vec<(i8, i8)>,
    tz: TimeZone,
}

fn is_weekend(d: Date) -> bool {
    matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday)
}

/// Applies the carry-over rule: a holiday on a weekend moves its day off to the next working day.
fn with_carry_over(
    holidays: &[Date],
    mut off: BTreeSet<Date>,
    working_weekend: &BTreeSet<Date>,
) -> BTreeSet<Date> {
    let mut sorted = holidays.to_vec();
    sorted.sort();
    for h in sorted {
        if !is_weekend(h) {
            continue;
        }
        let mut d = h;
        loop {
            d = match d.tomorrow() {
                Ok(n) => n,
                Err(_) => break,
            };
            let working = (!is_weekend(d) || working_weekend.contains(&d)) && !off.contains(&d);
            if working {
                off.insert(d);
                break;
            }
        }
    }
    off
}

impl WorkingDayCalendar {
    /// The calendar from the shipped files, with `overrides` (file name, text) replacing their years.
    pub fn load(overrides: &[(String, String)]) -> Result<Self, CalendarError> {
        let mut files: BTreeMap<i16, (String, YearFile)> = BTreeMap::new();
        let shipped = SHIPPED_FILES
            .iter()
            .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()));
        for (name, text) in shipped.chain(overrides.iter().cloned()) {
            let f: YearFile = toml::from_str(&text).map_err(|e| CalendarError::Parse {
                file: name.clone(),
                message: e.to_string(),
            })?;
            files.insert(f.year, (name, f));
        }
        let mut years = BTreeMap::new();
        let mut fallback_holidays = vec![];
        for (year, (name, f)) in &files {
            let all = f
                .holidays
                .iter()
                .chain(&f.days_off)
                .chain(f.transfers.iter().flat_map(|t| [&t.working, &t.off]));
            if let Some(bad) = all.into_iter().find(|d| d.year() != *year) {
                return Err(CalendarError::WrongYear {
                    file: name.clone(),
                    date: *bad,
                    year: *year,
                });
            }
            let working_weekend: BTreeSet<Date> = f.transfers.iter().map(|t| t.working).collect();
            let mut off: BTreeSet<Date> = f.holidays.iter().chain(&f.days_off).copied().collect();
            off.extend(f.transfers.iter().map(|t| t.off));
            let off = with_carry_over(&f.holidays, off, &working_weekend);
            years.insert(
                *year,
                Year {
                    provisional: f.provisional,
                    off,
                    working_weekend,
                },
            );
            fallback_holidays = f.holidays.iter().map(|d| (d.month(), d.day())).collect();
        }
        let tz = TimeZone::get(ALMATY).map_err(|e| CalendarError::TimeZone(e.to_string()))?;
        Ok(WorkingDayCalendar {
            years,
            fallback_holidays,
            tz,
        })
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// The Almaty date of an instant: every date of the order is an Almaty date.
    pub fn almaty_date(&self, at: Timestamp) -> Date {
        at.to_zoned(self.tz.clone()).date()
    }

    fn year(&self, y: i16) -> (Year, bool) {
        if let Some(found) = self.years.get(&y) {
            return (found.clone(), found.provisional);
        }
        let holidays: Vec<Date> = self
            .fallback_holidays
            .iter()
            .filter_map(|(m, d)| Date::new(y, *m, *d).ok())
            .collect();
        let mut off: BTreeSet<Date> = holidays.iter().copied().collect();
        if let Ok(jan7) = Date::new(y, 1, 7) {
            off.insert(jan7);
        }
        let off = with_carry_over(&holidays, off, &BTreeSet::new());
        (
            Year {
                provisional: true,
                off,
                working_weekend: BTreeSet::new(),
            },
            true,
        )
    }

    /// Whether `d` is a working day, and whether that answer is provisional.
    pub fn is_working_day(&self, d: Date) -> (bool, bool) {
        let (y, provisional) = self.year(d.year());
        let working = if y.working_weekend.contains(&d) {
            true
        } else {
            !is_weekend(d) && !y.off.contains(&d)
        };
        (working, provisional)
    }

    /// The N-th working day after `from` (counting starts the day after), and whether it is provisional.
    pub fn add_working_days(&self, from: Date, n: u32) -> Result<(Date, bool), CalendarError> {
        if n == 0 || n > 366 {
            return Err(CalendarError::Range(n));
        }
        let mut d = from;
        let mut left = n;
        let mut provisional = false;
        let mut cache: BTreeMap<i16, (Year, bool)> = BTreeMap::new();
        while left > 0 {
            d = d.tomorrow().map_err(|_| CalendarError::Range(n))?;
            let (y, p) = cache.entry(d.year()).or_insert_with(|| self.year(d.year()));
            provisional |= *p;
            let working = y.working_weekend.contains(&d) || (!is_weekend(d) && !y.off.contains(&d));
            if working {
                left -= 1;
            }
        }
        Ok((d, provisional))
    }

    /// Working days taken from `from` to `to`: the working days after `from` up to and including `to`
    /// (same day → 0; the deadline of N working days is met when this is at most N). `to` before `from`
    /// counts 0. Capped at ten years so that a wrong date cannot make it loop for long.
    pub fn working_days_between(&self, from: Date, to: Date) -> u32 {
        let mut d = from;
        let mut n = 0u32;
        let mut steps = 0u32;
        while d < to && steps < 3660 {
            d = match d.tomorrow() {
                Ok(x) => x,
                Err(_) => break,
            };
            steps += 1;
            if self.is_working_day(d).0 {
                n += 1;
            }
        }
        n
    }

    /// The end (23:59:59 Almaty) of the N-th working day after the Almaty date of `event`.
    pub fn deadline(&self, event: Timestamp, n: u32) -> Result<Deadline, CalendarError> {
        self.deadline_from_date(self.almaty_date(event), n)
    }

    pub fn deadline_from_date(&self, from: Date, n: u32) -> Result<Deadline, CalendarError> {
        let (due, provisional) = self.add_working_days(from, n)?;
        let due_at = due
            .at(23, 59, 59, 0)
            .to_zoned(self.tz.clone())
            .map_err(|e| CalendarError::TimeZone(e.to_string()))?
            .timestamp();
        Ok(Deadline {
            due,
            due_at,
            provisional,
        })
    }
}

/// One calendar year of access (Order 270 §9), by civil-code counting: granted 15 March 2026 → valid
/// through 15 March 2027; granted 29 February → through 28 February.
pub fn one_year_after(d: Date) -> Date {
    d.checked_add(1.year()).unwrap_or(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal() -> WorkingDayCalendar {
        match WorkingDayCalendar::load(&[]) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        }
    }
    fn d(s: &str) -> Date {
        s.parse().unwrap_or_else(|_| std::process::abort())
    }
    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap_or_else(|_| std::process::abort())
    }

    #[test]
    fn carry_overs_of_2025_and_2026_match_the_published_calendar() {
        let c = cal();
        for off in [
            "2025-03-10",
            "2025-03-24",
            "2025-03-25",
            "2025-07-07",
            "2025-09-01",
            "2025-10-27",
            "2025-01-03",
            "2025-06-06",
        ] {
            assert_eq!(
                c.is_working_day(d(off)),
                (false, false),
                "{off} is a day off"
            );
        }
        for off in [
            "2026-03-09",
            "2026-03-24",
            "2026-03-25",
            "2026-05-11",
            "2026-10-26",
            "2026-05-27",
            "2026-01-07",
        ] {
            assert_eq!(
                c.is_working_day(d(off)),
                (false, false),
                "{off} is a day off"
            );
        }
        assert_eq!(
            c.is_working_day(d("2025-01-05")),
            (true, false),
            "Sunday 5 Jan 2025 was a working day"
        );
        assert_eq!(
            c.is_working_day(d("2026-08-31")),
            (true, false),
            "30 Aug is no holiday from 2026"
        );
        assert_eq!(
            c.is_working_day(d("2027-03-15")),
            (false, true),
            "Constitution Day, provisional year"
        );
    }

    // Order 270 §9: the 2-working-day review clock across Nauryz 2026.
    #[test]
    fn review_deadline_across_nauryz_2026() {
        let c = cal();
        assert_eq!(
            c.add_working_days(d("2026-03-20"), 2).ok(),
            Some((d("2026-03-27"), false))
        );
        assert_eq!(
            c.add_working_days(d("2026-03-19"), 2).ok(),
            Some((d("2026-03-26"), false))
        );
    }

    // Order 270 §9: the transfer of 5 January 2025 to 3 January.
    #[test]
    fn deadline_around_january_2025_transfer() {
        let c = cal();
        assert_eq!(
            c.add_working_days(d("2025-01-02"), 1).ok(),
            Some((d("2025-01-05"), false))
        );
        assert_eq!(
            c.add_working_days(d("2025-01-02"), 2).ok(),
            Some((d("2025-01-06"), false))
        );
        assert_eq!(
            c.add_working_days(d("2024-12-31"), 2).ok(),
            Some((d("2025-01-06"), false))
        );
    }

    // Order 270 §9: a day starts and ends in Almaty, not in UTC.
    #[test]
    fn events_at_2330_and_0030_almaty() {
        let c = cal();
        // 23:30 Almaty on Thu 19 Mar 2026 is 18:30 UTC the same day.
        let late = c.deadline(ts("2026-03-19T18:30:00Z"), 2).ok();
        assert_eq!(late.map(|x| x.due), Some(d("2026-03-26")));
        // 00:30 Almaty on Fri 20 Mar 2026 is still 19 Mar in UTC: the Almaty date must win.
        let early = c.deadline(ts("2026-03-19T19:30:00Z"), 2).ok();
        assert_eq!(early.map(|x| x.due), Some(d("2026-03-27")));
        assert_eq!(early.map(|x| x.due_at), Some(ts("2026-03-27T18:59:59Z")));
    }

    #[test]
    fn year_without_file_is_provisional_with_carry_over() {
        let c = cal();
        // 2028: 1 Jan is a Saturday → Monday 3 Jan is the carried day off; 2 Jan Sunday → 4 Jan.
        assert_eq!(c.is_working_day(d("2028-01-03")), (false, true));
        assert_eq!(c.is_working_day(d("2028-01-04")), (false, true));
        assert_eq!(c.is_working_day(d("2028-01-05")), (true, true));
        let dl = c.deadline_from_date(d("2027-12-30"), 2).ok();
        assert_eq!(
            dl.map(|x| (x.due, x.provisional)),
            Some((d("2028-01-05"), true))
        );
    }

    #[test]
    fn override_replaces_a_shipped_year() {
        let text = "year = 2026\nprovisional = false\nholidays = []\ndays_off = [\"2026-03-26\"]\ntransfers = []\n";
        let c = WorkingDayCalendar::load(&[("custom.toml".into(), text.into())]).ok();
        let c = c.unwrap_or_else(cal);
        assert_eq!(c.is_working_day(d("2026-03-23")), (true, false));
        assert_eq!(c.is_working_day(d("2026-03-26")), (false, false));
        let bad = WorkingDayCalendar::load(&[(
            "bad.toml".into(),
            text.replace("2026-03-26", "2025-03-26"),
        )]);
        assert!(matches!(bad, Err(CalendarError::WrongYear { .. })));
    }

    // Order 270 §9: validity is counted from the Almaty date of the grant, at 23:30 and at 00:30.
    #[test]
    fn validity_from_grants_at_2330_and_0030_almaty() {
        let c = cal();
        // 23:30 Almaty on 14 March 2026.
        let late = c.almaty_date(ts("2026-03-14T18:30:00Z"));
        assert_eq!(
            (late, one_year_after(late)),
            (d("2026-03-14"), d("2027-03-14"))
        );
        // 00:30 Almaty on 15 March 2026 is still 14 March in UTC.
        let early = c.almaty_date(ts("2026-03-14T19:30:00Z"));
        assert_eq!(
            (early, one_year_after(early)),
            (d("2026-03-15"), d("2027-03-15"))
        );
    }

    // Order 270 §9: access for 1 calendar year.
    #[test]
    fn one_calendar_year() {
        assert_eq!(one_year_after(d("2026-03-15")), d("2027-03-15"));
        assert_eq!(one_year_after(d("2028-02-29")), d("2029-02-28"));
    }

    // Order 270 §9: the block clock is 3 working days from the day the powers end.
    #[test]
    fn block_deadline_after_a_friday_dismissal_before_nauryz() {
        let c = cal();
        let dl = c
            .deadline_from_date(d("2026-03-20"), 3)
            .unwrap_or_else(|_| std::process::abort());
        assert_eq!(dl.due, d("2026-03-30"));
        assert_eq!(c.working_days_between(d("2026-03-20"), d("2026-03-25")), 0);
        assert_eq!(c.working_days_between(d("2026-03-20"), d("2026-03-30")), 3);
        assert_eq!(c.working_days_between(d("2026-03-20"), d("2026-04-01")), 5);
        assert_eq!(c.working_days_between(d("2026-03-20"), d("2026-03-20")), 0);
        assert_eq!(c.working_days_between(d("2026-03-20"), d("2026-03-01")), 0);
    }
}
