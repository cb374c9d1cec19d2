//! Static rotations declared in `idp.toml`, for groups that are not paged through PagerDuty.
//!
//! ```toml
//! [[oncall.rotations]]
//! group = "search-team"              # entity ref; kind Group and namespace `default` assumed
//! members = ["user:ana", "user:ben"] # in rotation order; kind User assumed
//! shift = "1w"                       # "<n>w", "<n>d" or "<n>h"; or `shift_hours = 168`
//! handoff = "09:00"                  # local wall-clock time of every handoff
//! time_zone = "Europe/Berlin"        # IANA name
//! start = "2026-01-05"               # the first member's first shift starts this day at `handoff`
//!
//! [[oncall.rotations.overrides]]
//! user = "user:cara"
//! start = "2026-03-29T08:00:00+02:00"  # RFC 3339; without an offset, local time in `time_zone`
//! end = "2026-03-30T08:00:00+02:00"
//! ```
//!
//! # How shifts are counted
//! - A shift length in whole days (`"1w"`, `"3d"`, `"48h"`, `shift_hours = 168`) is counted in
//!   **local calendar days**: shift *k* starts on `start + k × n` days at `handoff`, local time.
//!   A shift that spans a daylight-saving change is therefore 23 or 25 hours long, and the handoff
//!   stays at the same wall-clock time all year.
//! - Any other length (`"12h"`, `shift_hours = 36`) is counted in **absolute hours** from the first
//!   handoff instant, so its wall-clock handoff time moves by an hour across a change.
//! - Shifts are half-open: the new person is on call *at* the handoff instant; one second before,
//!   the previous person still is. Before the first handoff the rotation names nobody.
//! - A local time that does not exist (inside a spring-forward gap, e.g. 02:30 in Europe/Berlin on
//!   2026-03-29) is taken as the first instant after the gap, the moment the clocks jump (03:00
//!   CEST). A local time that occurs twice (fall-back, 02:30 in Europe/Berlin on 2026-10-25) is
//!   taken as the earlier of the two instants (02:30 CEST). See [`resolve_local`].
//! - An override wins over the rotation from its `start` (inclusive) to its `end` (exclusive). When
//!   overrides overlap, the one listed later wins.

use std::collections::HashMap;

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use crate::catalog::{EntityRef, Snapshot};

/// The longest shift accepted, in hours (one year).
pub const MAX_SHIFT_HOURS: u32 = 366 * 24;

/// How many adjacent segments with the same person are merged into one shift, at most.
const MAX_MERGE: usize = 64;

/// How long one shift lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShiftLength {
    /// Whole local calendar days: a handoff at the `handoff` wall-clock time every N days.
    Days(u32),
    /// Absolute hours from the first handoff, for lengths that are not a multiple of 24 hours.
    Hours(u32),
}

impl ShiftLength {
    /// The length from a number of hours: `Days` when it is a multiple of 24, else `Hours`.
    pub fn from_hours(hours: u32) -> Self {
        if hours.is_multiple_of(24) {
            Self::Days(hours / 24)
        } else {
            Self::Hours(hours)
        }
    }

    /// The nominal length in hours (a `Days` shift across a daylight-saving change is an hour
    /// shorter or longer than this).
    pub fn hours(self) -> u32 {
        match self {
            Self::Days(d) => d.saturating_mul(24),
            Self::Hours(h) => h,
        }
    }
}

/// One `[[oncall.rotations.overrides]]` entry: `user` is on call from `start` (inclusive) to `end`
/// (exclusive), whoever the rotation names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationOverride {
    /// The catalog User on call instead (kind User assumed when the ref names none).
    pub user: EntityRef,
    /// From this instant (inclusive).
    pub start: DateTime<Utc>,
    /// Until this instant (exclusive); after `start`.
    pub end: DateTime<Utc>,
}

/// One `[[oncall.rotations]]` table of `idp.toml`, read and validated (see the module docs for the
/// format and the counting rules).
///
/// Deserializing checks every field and fails with one message naming the rotation and the field,
/// e.g. ``[[oncall.rotations]] `search-team`: `time_zone` "Europe/Berln" is not an IANA time zone
/// name such as "Europe/Berlin"``; the TOML reader adds the file and line.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawRotation")]
pub struct RotationConfig {
    /// `group`: the Group the rotation answers for.
    pub group: EntityRef,
    /// `members`: catalog Users in rotation order; the first takes the first shift.
    pub members: Vec<EntityRef>,
    /// `shift` or `shift_hours`.
    pub shift: ShiftLength,
    /// `handoff`: the local wall-clock time of every handoff.
    pub handoff: NaiveTime,
    /// `time_zone`: the IANA zone `handoff` and `start` are read in.
    pub time_zone: Tz,
    /// `start`: the local date of the first handoff.
    pub start: NaiveDate,
    /// `overrides`, in the order written.
    pub overrides: Vec<RotationOverride>,
}

/// One stretch of time a single person is on call for a rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationShift {
    /// Who: a rotation member or an override's user, as configured.
    pub user: EntityRef,
    /// Start (inclusive).
    pub start: DateTime<Utc>,
    /// End (exclusive).
    pub end: DateTime<Utc>,
    /// True when an override (not the rotation order) puts this person on call.
    pub overridden: bool,
}

/// The instant a local wall-clock time in `tz` stands for, deterministic across daylight-saving
/// changes: an existing time maps to its instant; a time that occurs twice (fall-back) maps to the
/// **earlier** instant; a time that does not exist (spring-forward gap) maps to the **first
/// instant after the gap**, i.e. the transition itself (02:30 on 2026-03-29 in Europe/Berlin →
/// 03:00 CEST = 01:00 UTC).
pub fn resolve_local(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => {
            // Inside a gap. Offsets lie within ±15 h, so `lo` shows an earlier and `hi` a later
            // wall-clock time than `local`; search for the first second whose wall-clock time is
            // not before `local`: that is the end of the gap.
            let target = local.and_utc().timestamp();
            let mut lo = target - 15 * 3600;
            let mut hi = target + 15 * 3600;
            let wall = |secs: i64| {
                DateTime::from_timestamp(secs, 0)
                    .map(|t| tz.from_utc_datetime(&t.naive_utc()).naive_local())
            };
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                match wall(mid) {
                    Some(w) if w < local => lo = mid,
                    _ => hi = mid,
                }
            }
            DateTime::from_timestamp(hi, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
        }
    }
}

impl RotationConfig {
    /// The instant the first shift starts: `start` at `handoff` in `time_zone`.
    pub fn first_handoff(&self) -> DateTime<Utc> {
        resolve_local(self.time_zone, self.start.and_time(self.handoff))
    }

    /// The start of rotation shift `k` (k ≥ 0).
    fn boundary(&self, k: i64) -> DateTime<Utc> {
        let k = k.max(0);
        match self.shift {
            ShiftLength::Days(n) => u64::try_from(k)
                .ok()
                .and_then(|k| k.checked_mul(u64::from(n)))
                .and_then(|days| self.start.checked_add_days(chrono::Days::new(days)))
                .map(|day| resolve_local(self.time_zone, day.and_time(self.handoff)))
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
            ShiftLength::Hours(h) => Duration::try_hours(k.saturating_mul(i64::from(h)))
                .and_then(|d| self.first_handoff().checked_add_signed(d))
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        }
    }

    /// The index of the rotation shift containing `at`, or `None` before the first handoff.
    fn shift_index(&self, at: DateTime<Utc>) -> Option<i64> {
        let first = self.first_handoff();
        if at < first {
            return None;
        }
        let len = i64::from(self.shift.hours().max(1)) * 3600;
        // A guess from the nominal length, then corrected by at most a step or two (daylight-saving
        // changes move boundaries by an hour).
        let mut k = (at - first).num_seconds() / len;
        while k > 0 && self.boundary(k) > at {
            k -= 1;
        }
        while self.boundary(k + 1) <= at && k < i64::MAX - 1 {
            k += 1;
        }
        Some(k)
    }

    /// Who is on call at `at`, and whether by override: the last override covering `at`, else the
    /// rotation member of the shift containing `at`.
    fn assignee(&self, at: DateTime<Utc>) -> Option<(&EntityRef, bool)> {
        if let Some(o) = self
            .overrides
            .iter()
            .rev()
            .find(|o| o.start <= at && at < o.end)
        {
            return Some((&o.user, true));
        }
        let k = self.shift_index(at)?;
        let len = i64::try_from(self.members.len()).ok().filter(|&l| l > 0)?;
        let i = usize::try_from(k.rem_euclid(len)).ok()?;
        self.members.get(i).map(|m| (m, false))
    }

    /// The latest instant ≤ `at` where the assignment may change, if any.
    fn break_at_or_before(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let shift = self.shift_index(at).map(|k| self.boundary(k));
        self.overrides
            .iter()
            .flat_map(|o| [o.start, o.end])
            .filter(|&t| t <= at)
            .chain(shift)
            .max()
    }

    /// The earliest instant > `at` where the assignment may change.
    fn break_after(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        let shift = match self.shift_index(at) {
            Some(k) => self.boundary(k + 1),
            None => self.first_handoff(),
        };
        self.overrides
            .iter()
            .flat_map(|o| [o.start, o.end])
            .filter(|&t| t > at)
            .chain(std::iter::once(shift))
            .min()
            .unwrap_or(shift)
    }

    /// Who is on call at `at` and for how long: the whole stretch that person holds without a
    /// break (adjacent shifts of the same person are joined, up to 64 of them). `None` when the
    /// rotation names nobody (before the first handoff, with no override).
    pub fn on_call_at(&self, at: DateTime<Utc>) -> Option<RotationShift> {
        let (user, overridden) = self.assignee(at)?;
        let same = |t: DateTime<Utc>| self.assignee(t).is_some_and(|(u, _)| u.same_as(user));
        let mut start = self.break_at_or_before(at).unwrap_or(at);
        let mut end = self.break_after(at);
        for _ in 0..MAX_MERGE {
            if end == DateTime::<Utc>::MAX_UTC || !same(end) {
                break;
            }
            end = self.break_after(end);
        }
        for _ in 0..MAX_MERGE {
            let before = start - Duration::nanoseconds(1);
            if !same(before) {
                break;
            }
            match self.break_at_or_before(before) {
                Some(b) => start = b,
                None => break,
            }
        }
        Some(RotationShift {
            user: user.clone(),
            start,
            end,
            overridden,
        })
    }

    /// The next stretch after the one containing `at` (or, when nobody is on call at `at`, the
    /// first one after it): who takes over next and when.
    pub fn next_after(&self, at: DateTime<Utc>) -> Option<RotationShift> {
        let mut t = match self.on_call_at(at) {
            Some(now) => now.end,
            None => self.break_after(at),
        };
        for _ in 0..MAX_MERGE {
            if t == DateTime::<Utc>::MAX_UTC {
                return None;
            }
            if let Some(shift) = self.on_call_at(t) {
                return Some(shift);
            }
            t = self.break_after(t);
        }
        None
    }

    /// The stretches of one user: the one holding `at` (if the user is on call then) and the
    /// user's next one after `at` (searched over the next two full turns of the rotation).
    pub fn shifts_of(&self, user: &EntityRef, at: DateTime<Utc>) -> Vec<RotationShift> {
        let key = user.key();
        let mut out = Vec::new();
        if let Some(now) = self.on_call_at(at)
            && now.user.key() == key
        {
            out.push(now);
        }
        let limit = self.members.len() * 2 + self.overrides.len() * 2 + 2;
        let mut t = at;
        for _ in 0..limit {
            let Some(next) = self.next_after(t) else {
                break;
            };
            if next.user.key() == key {
                out.push(next);
                break;
            }
            t = next.start;
        }
        out
    }

    /// Every problem with this rotation, each naming the rotation and the field. Deserialized
    /// rotations have none; rotations built in code may.
    pub fn problems(&self) -> Vec<String> {
        let label = format!("[[oncall.rotations]] `{}`", self.group.short());
        let mut out = Vec::new();
        if !self.group.kind.eq_ignore_ascii_case("group") {
            out.push(format!(
                "{label}: `group` must name a Group, not a {}",
                self.group.kind
            ));
        }
        if self.members.is_empty() {
            out.push(format!(
                "{label}: `members` is empty; list at least one user"
            ));
        }
        for m in &self.members {
            if !m.kind.eq_ignore_ascii_case("user") {
                out.push(format!(
                    "{label}: `members` entry `{}` must be a User",
                    m.short()
                ));
            }
        }
        let hours = self.shift.hours();
        if hours == 0 || hours > MAX_SHIFT_HOURS {
            out.push(format!(
                "{label}: `shift` must be between 1 hour and {MAX_SHIFT_HOURS} hours (one year)"
            ));
        }
        for (i, o) in self.overrides.iter().enumerate() {
            if o.end <= o.start {
                out.push(format!(
                    "{label}: `overrides[{i}].end` ({}) must be after its start ({})",
                    o.end.to_rfc3339(),
                    o.start.to_rfc3339()
                ));
            }
            if !o.user.kind.eq_ignore_ascii_case("user") {
                out.push(format!(
                    "{label}: `overrides[{i}].user` `{}` must be a User",
                    o.user.short()
                ));
            }
        }
        out
    }
}

/// Every problem with the rotations as a whole: each rotation's own problems, and a group with
/// more than one rotation.
pub(crate) fn problems(rotations: &[RotationConfig]) -> Vec<String> {
    let mut out = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, r) in rotations.iter().enumerate() {
        out.extend(r.problems());
        if let Some(first) = seen.insert(r.group.key(), i) {
            out.push(format!(
                "[[oncall.rotations]] `{}`: `group` already has a rotation (rotations #{} and #{}); keep one",
                r.group.short(),
                first + 1,
                i + 1
            ));
        }
    }
    out
}

/// Warnings about refs the catalog does not know: the group and every member or override user.
pub(crate) fn catalog_warnings(rotations: &[RotationConfig], snapshot: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    for r in rotations {
        let label = format!("[[oncall.rotations]] `{}`", r.group.short());
        if snapshot.get(&r.group).is_none() {
            out.push(format!(
                "{label}: `group` `{}` is not in the catalog",
                r.group.short()
            ));
        }
        for m in &r.members {
            if snapshot.get(m).is_none() {
                out.push(format!(
                    "{label}: `members` entry `{}` is not in the catalog; they cannot be matched to a Slack user",
                    m.short()
                ));
            }
        }
        for (i, o) in r.overrides.iter().enumerate() {
            if snapshot.get(&o.user).is_none() {
                out.push(format!(
                    "{label}: `overrides[{i}].user` `{}` is not in the catalog",
                    o.user.short()
                ));
            }
        }
    }
    out
}

/// `[[oncall.rotations]]` exactly as written; every field optional so that a missing one is
/// reported with the rotation's name.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRotation {
    group: Option<String>,
    members: Option<Vec<String>>,
    shift: Option<String>,
    shift_hours: Option<i64>,
    handoff: Option<String>,
    time_zone: Option<String>,
    start: Option<toml::Value>,
    #[serde(default)]
    overrides: Vec<RawOverride>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOverride {
    user: Option<String>,
    start: Option<toml::Value>,
    end: Option<toml::Value>,
}

/// A TOML string or date/time literal as text.
fn text_of(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.trim().to_owned()),
        toml::Value::Datetime(d) => Some(d.to_string()),
        _ => None,
    }
}

/// `"1w"`, `"2d"`, `"12h"` → hours.
fn parse_shift(text: &str) -> Option<u32> {
    let text = text.trim().to_ascii_lowercase();
    let unit = text.chars().last()?;
    let number: u32 = text[..text.len() - unit.len_utf8()].trim().parse().ok()?;
    let per = match unit {
        'w' => 7 * 24,
        'd' => 24,
        'h' => 1,
        _ => return None,
    };
    number.checked_mul(per)
}

fn parse_handoff(text: &str) -> Option<NaiveTime> {
    let text = text.trim();
    NaiveTime::parse_from_str(text, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M:%S"))
        .ok()
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()
}

/// RFC 3339 with an offset, or a local date-time (`2026-03-29T08:00[:00]`) in `tz`.
fn parse_instant(text: &str, tz: Tz) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
    .map(|local| resolve_local(tz, local))
}

impl TryFrom<RawRotation> for RotationConfig {
    type Error = String;

    fn try_from(raw: RawRotation) -> Result<Self, String> {
        let label = match raw.group.as_deref().map(str::trim) {
            Some(g) if !g.is_empty() => format!("[[oncall.rotations]] `{g}`"),
            _ => {
                return Err(
                    "[[oncall.rotations]]: `group` is required (the Group this rotation answers for, e.g. \"search-team\")"
                        .to_owned(),
                );
            }
        };
        let group_text = raw.group.as_deref().unwrap_or_default();
        let group = EntityRef::parse(group_text, Some("Group"), crate::catalog::DEFAULT_NAMESPACE)
            .map_err(|e| format!("{label}: `group` {e}"))?;
        let label = format!("[[oncall.rotations]] `{}`", group.short());

        let members_text = raw.members.ok_or_else(|| {
            format!("{label}: `members` is required (users in rotation order, e.g. [\"user:ana\"])")
        })?;
        let members = members_text
            .iter()
            .map(|m| {
                EntityRef::parse(m, Some("User"), crate::catalog::DEFAULT_NAMESPACE)
                    .map_err(|e| format!("{label}: `members` entry {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;

        let hours = match (raw.shift.as_deref(), raw.shift_hours) {
            (Some(_), Some(_)) => {
                return Err(format!(
                    "{label}: give either `shift` or `shift_hours`, not both"
                ));
            }
            (None, None) => {
                return Err(format!(
                    "{label}: `shift` is required (e.g. \"1w\", \"1d\", \"12h\"; or `shift_hours = 168`)"
                ));
            }
            (Some(text), None) => parse_shift(text).ok_or_else(|| {
                format!(
                    "{label}: `shift` \"{text}\" is not a length such as \"1w\", \"3d\" or \"12h\""
                )
            })?,
            (None, Some(h)) => u32::try_from(h).map_err(|_| {
                format!("{label}: `shift_hours` {h} must be a positive number of hours")
            })?,
        };
        if hours == 0 || hours > MAX_SHIFT_HOURS {
            return Err(format!(
                "{label}: `shift` must be between 1 hour and {MAX_SHIFT_HOURS} hours (one year)"
            ));
        }

        let handoff_text = raw.handoff.ok_or_else(|| {
            format!("{label}: `handoff` is required (local time, e.g. \"09:00\")")
        })?;
        let handoff = parse_handoff(&handoff_text).ok_or_else(|| {
            format!(
                "{label}: `handoff` \"{handoff_text}\" is not a local time HH:MM such as \"09:00\""
            )
        })?;

        let tz_text = raw.time_zone.ok_or_else(|| {
            format!("{label}: `time_zone` is required (an IANA name such as \"Europe/Berlin\")")
        })?;
        let time_zone: Tz = tz_text.trim().parse().map_err(|_| {
            format!(
                "{label}: `time_zone` \"{tz_text}\" is not an IANA time zone name such as \"Europe/Berlin\""
            )
        })?;

        let start_value = raw.start.ok_or_else(|| {
            format!("{label}: `start` is required (the first handoff's date, e.g. \"2026-01-05\")")
        })?;
        let start = text_of(&start_value)
            .as_deref()
            .and_then(parse_date)
            .ok_or_else(|| {
                format!(
                    "{label}: `start` {start_value} is not a date YYYY-MM-DD such as \"2026-01-05\""
                )
            })?;

        let mut overrides = Vec::with_capacity(raw.overrides.len());
        for (i, o) in raw.overrides.into_iter().enumerate() {
            let field = |name: &str| format!("{label}: `overrides[{i}].{name}`");
            let user_text = o
                .user
                .ok_or_else(|| format!("{} is required", field("user")))?;
            let user =
                EntityRef::parse(&user_text, Some("User"), crate::catalog::DEFAULT_NAMESPACE)
                    .map_err(|e| format!("{} {e}", field("user")))?;
            let instant = |name: &str, v: Option<toml::Value>| {
                let v = v.ok_or_else(|| format!("{} is required", field(name)))?;
                text_of(&v)
                    .and_then(|t| parse_instant(&t, time_zone))
                    .ok_or_else(|| {
                        format!(
                            "{} {v} is not a date-time such as \"2026-03-29T08:00:00+02:00\"",
                            field(name)
                        )
                    })
            };
            let start = instant("start", o.start)?;
            let end = instant("end", o.end)?;
            overrides.push(RotationOverride { user, start, end });
        }

        let rotation = Self {
            group,
            members,
            shift: ShiftLength::from_hours(hours),
            handoff,
            time_zone,
            start,
            overrides,
        };
        let problems = rotation.problems();
        if problems.is_empty() {
            Ok(rotation)
        } else {
            Err(problems.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("test time")
            .with_timezone(&Utc)
    }

    #[test]
    fn a_local_time_in_a_gap_becomes_the_end_of_the_gap_and_a_repeated_one_the_earlier_instant() {
        let day = |d: &str, t: &str| {
            NaiveDateTime::parse_from_str(&format!("{d} {t}"), "%Y-%m-%d %H:%M").expect("local")
        };
        let berlin = chrono_tz::Europe::Berlin;
        assert_eq!(
            resolve_local(berlin, day("2026-03-29", "02:30")),
            utc("2026-03-29T01:00:00Z")
        );
        assert_eq!(
            resolve_local(berlin, day("2026-10-25", "02:30")),
            utc("2026-10-25T00:30:00Z")
        );
        let new_york = chrono_tz::America::New_York;
        assert_eq!(
            resolve_local(new_york, day("2026-03-08", "02:30")),
            utc("2026-03-08T07:00:00Z")
        );
        assert_eq!(
            resolve_local(new_york, day("2026-11-01", "01:30")),
            utc("2026-11-01T05:30:00Z")
        );
    }

    #[test]
    fn shift_lengths_read_weeks_days_and_hours() {
        assert_eq!(parse_shift("1w"), Some(168));
        assert_eq!(parse_shift("3d"), Some(72));
        assert_eq!(parse_shift("12h"), Some(12));
        assert_eq!(parse_shift("12"), None);
        assert_eq!(parse_shift("w"), None);
        assert_eq!(ShiftLength::from_hours(48), ShiftLength::Days(2));
        assert_eq!(ShiftLength::from_hours(36), ShiftLength::Hours(36));
    }
}
