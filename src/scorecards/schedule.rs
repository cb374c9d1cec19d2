//! Digest schedules: when a subscription is due, in its own time zone.
//!
//! A schedule reads naturally or is a cron expression, each with an optional IANA time zone at
//! the end (none means UTC, and replies say so):
//!
//! ```text
//! daily 08:30 America/New_York
//! weekdays 09:00 Europe/London          (Monday to Friday)
//! weekly mon 09:00 Europe/Berlin        (also full names, or several days: weekly mon,thu 09:00)
//! 0 9 * * 1-5 Europe/Berlin             (five cron fields: minute hour day month weekday)
//! ```
//!
//! The natural forms are translated to the same five cron fields, and every schedule is evaluated
//! by the [`croner`] crate on the wall clock of its time zone ([`chrono_tz`]). A digest is sent at
//! most once an hour, so cron expressions that fire more often are refused.
//!
//! # Daylight-saving time
//! - A wall time that does not exist (inside a spring-forward gap, e.g. 02:30 in Europe/Berlin on
//!   2026-03-29) is due at the first real instant after the gap, the moment the clocks jump
//!   (03:00 CEST).
//! - A wall time that occurs twice (fall-back, 02:30 in Europe/Berlin on 2026-10-25) is due once,
//!   at the first of the two instants (02:30 CEST).
//!
//! These are the rules the on-call rotations follow too ([`crate::oncall::rotation`]).
//!
//! # Periods
//! Each due instant is one period of a subscription; [`period_key`] names it with the instant in
//! RFC 3339 UTC (`2026-03-30T07:00:00Z`), the same on every replica.

use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// What every schedule error says is expected, with an example.
pub const EXPECTED: &str = "expected \"daily HH:MM [Area/City]\", \"weekdays HH:MM [Area/City]\", \
     \"weekly <mon..sun> HH:MM [Area/City]\" or a cron expression, e.g. weekly mon 09:00 Europe/Berlin";

/// The shortest time between two digests of one subscription.
pub const MIN_INTERVAL: chrono::Duration = chrono::Duration::hours(1);

/// The longest schedule text accepted, in characters.
pub const MAX_SCHEDULE_CHARS: usize = 200;

/// Why a schedule could not be read. The message says what is wrong and ends with [`EXPECTED`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem}; {EXPECTED}")]
pub struct ScheduleError {
    /// What is wrong, e.g. "`25:00` is not a time of day".
    pub problem: String,
}

impl ScheduleError {
    fn new(problem: impl Into<String>) -> Self {
        Self {
            problem: problem.into(),
        }
    }
}

/// How often a schedule is due, as the user wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cadence {
    /// Every day at a time.
    Daily,
    /// Monday to Friday at a time.
    Weekdays,
    /// On these days of the week (cron numbers, 0 = Sunday … 6 = Saturday), at a time.
    Weekly(Vec<u8>),
    /// A cron expression (five fields, as written).
    Cron(String),
}

/// A parsed schedule: the cron fields it stands for and its time zone. Two schedules are equal
/// when they are due at the same instants (whether the zone was written out does not matter);
/// `Debug` shows the canonical text.
#[derive(Clone)]
pub struct Schedule {
    cadence: Cadence,
    /// (hour, minute) for the natural forms.
    at: Option<(u8, u8)>,
    /// Boxed: croner's pattern holds a bit per possible year (kilobytes).
    cron: Box<Cron>,
    tz: Tz,
    tz_given: bool,
}

const DAYS: [(&str, &str); 7] = [
    ("sun", "sunday"),
    ("mon", "monday"),
    ("tue", "tuesday"),
    ("wed", "wednesday"),
    ("thu", "thursday"),
    ("fri", "friday"),
    ("sat", "saturday"),
];

fn day_number(word: &str) -> Option<u8> {
    let w = word.to_ascii_lowercase();
    DAYS.iter()
        .position(|(short, long)| w == *short || w == *long)
        .and_then(|i| u8::try_from(i).ok())
}

/// `H:MM` or `HH:MM`, 00:00 to 23:59.
fn time_of_day(word: &str) -> Result<(u8, u8), ScheduleError> {
    let bad = || {
        ScheduleError::new(format!(
            "`{word}` is not a time of day (HH:MM, 00:00 to 23:59)"
        ))
    };
    let (h, m) = word.split_once(':').ok_or_else(bad)?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return Err(bad());
    }
    let hour: u8 = h.parse().map_err(|_| bad())?;
    let minute: u8 = m.parse().map_err(|_| bad())?;
    if hour > 23 || minute > 59 {
        return Err(bad());
    }
    Ok((hour, minute))
}

/// An IANA time zone name, matched case-insensitively (`europe/berlin` is `Europe/Berlin`).
pub fn time_zone(word: &str) -> Option<Tz> {
    Tz::from_str(word).ok().or_else(|| {
        chrono_tz::TZ_VARIANTS
            .iter()
            .copied()
            .find(|tz| tz.name().eq_ignore_ascii_case(word))
    })
}

/// Whether a word looks like an attempt at a time zone (`Area/City`, `UTC`), so a wrong one gets
/// its own message instead of being read as part of a cron expression.
fn looks_like_zone(word: &str) -> bool {
    word.eq_ignore_ascii_case("utc")
        || (word.contains('/') && word.chars().next().is_some_and(char::is_alphabetic))
}

fn cron_parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
}

impl Schedule {
    /// Parses a schedule (see the module docs). Words are separated by spaces; case does not
    /// matter except inside a cron expression's names, which croner also reads case-insensitively.
    ///
    /// # Errors
    /// [`ScheduleError`] naming the problem, followed by what is expected and an example.
    pub fn parse(text: &str) -> Result<Self, ScheduleError> {
        if text.chars().count() > MAX_SCHEDULE_CHARS {
            return Err(ScheduleError::new(format!(
                "a schedule is at most {MAX_SCHEDULE_CHARS} characters"
            )));
        }
        let mut words: Vec<&str> = text.split_whitespace().collect();
        let Some(first) = words.first() else {
            return Err(ScheduleError::new("the schedule is missing"));
        };
        let first = first.to_ascii_lowercase();
        let mut tz_given = false;
        let mut tz = Tz::UTC;
        if let Some(last) = words.last().copied()
            && words.len() > 1
        {
            if let Some(zone) = time_zone(last) {
                tz = zone;
                tz_given = true;
                words.pop();
            } else if looks_like_zone(last) {
                return Err(ScheduleError::new(format!(
                    "`{last}` is not an IANA time zone (such as Europe/Berlin or America/New_York)"
                )));
            }
        }
        let (cadence, at) = match first.as_str() {
            "daily" | "weekdays" => {
                let [_, time] = words[..] else {
                    return Err(ScheduleError::new(format!(
                        "`{first}` takes a time and an optional time zone"
                    )));
                };
                let cadence = if first == "daily" {
                    Cadence::Daily
                } else {
                    Cadence::Weekdays
                };
                (cadence, Some(time_of_day(time)?))
            }
            "weekly" => {
                let [_, days, time] = words[..] else {
                    return Err(ScheduleError::new(
                        "`weekly` takes a day, a time and an optional time zone",
                    ));
                };
                let mut numbers = Vec::new();
                for day in days.split(',') {
                    let n = day_number(day).ok_or_else(|| {
                        ScheduleError::new(format!("`{day}` is not a day of the week (mon..sun)"))
                    })?;
                    if !numbers.contains(&n) {
                        numbers.push(n);
                    }
                }
                numbers.sort_unstable();
                (Cadence::Weekly(numbers), Some(time_of_day(time)?))
            }
            _ if words.len() == 5 || first.starts_with('@') => {
                (Cadence::Cron(words.join(" ")), None)
            }
            _ => {
                return Err(ScheduleError::new(format!(
                    "`{}` is not a schedule",
                    words.join(" ")
                )));
            }
        };
        let pattern = match (&cadence, at) {
            (Cadence::Daily, Some((h, m))) => format!("{m} {h} * * *"),
            (Cadence::Weekdays, Some((h, m))) => format!("{m} {h} * * 1-5"),
            (Cadence::Weekly(days), Some((h, m))) => {
                let days: Vec<String> = days.iter().map(u8::to_string).collect();
                format!("{m} {h} * * {}", days.join(","))
            }
            (Cadence::Cron(expr), _) => expr.clone(),
            _ => return Err(ScheduleError::new("the schedule has no time")),
        };
        let cron = cron_parser().parse(&pattern).map_err(|e| {
            ScheduleError::new(format!("`{pattern}` is not a cron expression ({e})"))
        })?;
        let schedule = Self {
            cadence,
            at,
            cron: Box::new(cron),
            tz,
            tz_given,
        };
        schedule.check_interval()?;
        Ok(schedule)
    }

    /// Refuses schedules that are never due or due more often than [`MIN_INTERVAL`], judged on
    /// the first occurrences after a fixed date (so the answer never depends on today).
    fn check_interval(&self) -> Result<(), ScheduleError> {
        let from = self.tz.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).earliest();
        let Some(from) = from else {
            return Ok(());
        };
        let first = self
            .cron
            .find_next_occurrence(&from, true)
            .map_err(|_| ScheduleError::new(format!("`{}` is never due", self.cron.pattern)))?;
        let mut previous = first.with_timezone(&Utc);
        for next in self.cron.iter_after(first).take(8) {
            let next = next.with_timezone(&Utc);
            if next - previous < MIN_INTERVAL {
                return Err(ScheduleError::new(format!(
                    "`{}` is due more often than once an hour",
                    self.cron.pattern
                )));
            }
            previous = next;
        }
        Ok(())
    }

    /// The latest instant the schedule is due at or before `now` (a schedule due exactly at `now`
    /// is due now). `None` when it was never due before (only for patterns limited to dates far
    /// in the past, which [`Schedule::parse`] refuses).
    pub fn latest_due_at_or_before(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_previous_occurrence(&now.with_timezone(&self.tz), true)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The first instant the schedule is due strictly after `t`.
    pub fn next_due_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&t.with_timezone(&self.tz), false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The time zone the schedule is read in (UTC unless one was given).
    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    /// Whether the text named the time zone (otherwise it is UTC, and replies say so).
    pub fn time_zone_given(&self) -> bool {
        self.tz_given
    }

    /// `HH:MM` of the natural forms; empty for cron.
    fn time_of_day(&self) -> String {
        self.at
            .map(|(h, m)| format!("{h:02}:{m:02}"))
            .unwrap_or_default()
    }

    /// The cadence as written.
    pub fn cadence(&self) -> &Cadence {
        &self.cadence
    }

    /// The canonical text, which [`Schedule::parse`] reads back to the same schedule:
    /// `weekly mon 09:00 Europe/Berlin`, `daily 08:30 UTC`, `0 9 * * 1-5 Europe/London`.
    pub fn canonical(&self) -> String {
        let time = self.time_of_day();
        let head = match &self.cadence {
            Cadence::Daily => format!("daily {time}"),
            Cadence::Weekdays => format!("weekdays {time}"),
            Cadence::Weekly(days) => {
                let names: Vec<&str> = days
                    .iter()
                    .filter_map(|d| DAYS.get(usize::from(*d)).map(|(short, _)| *short))
                    .collect();
                format!("weekly {} {time}", names.join(","))
            }
            Cadence::Cron(expr) => expr.clone(),
        };
        format!("{head} {}", self.tz.name())
    }

    /// A phrase for people: "every Monday at 09:00 (Europe/Berlin)", "every day at 08:30 (UTC)",
    /// "on cron `0 9 * * 1-5` (Europe/London)".
    pub fn describe(&self) -> String {
        let time = self.time_of_day();
        let when = match &self.cadence {
            Cadence::Daily => format!("every day at {time}"),
            Cadence::Weekdays => format!("every weekday at {time}"),
            Cadence::Weekly(days) => {
                let names: Vec<String> = days
                    .iter()
                    .filter_map(|d| DAYS.get(usize::from(*d)))
                    .map(|(_, long)| capitalized(long))
                    .collect();
                format!("every {} at {time}", names.join(" and "))
            }
            Cadence::Cron(expr) => format!("on cron `{expr}`"),
        };
        format!("{when} ({})", self.tz.name())
    }
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_uppercase().chain(chars).collect::<String>()
    })
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.cadence == other.cadence
            && self.at == other.at
            && self.cron == other.cron
            && self.tz == other.tz
    }
}

impl Eq for Schedule {}

impl std::fmt::Debug for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Schedule({:?})", self.canonical())
    }
}

impl FromStr for Schedule {
    type Err = ScheduleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The stable key of one period: its due instant in RFC 3339 UTC, to the second
/// (`2026-03-30T07:00:00Z`).
pub fn period_key(due: DateTime<Utc>) -> String {
    due.to_rfc3339_opts(SecondsFormat::Secs, true)
}
