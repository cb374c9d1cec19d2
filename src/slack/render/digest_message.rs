//! What `digest subscribe|list|unsubscribe` answer (ephemeral), and the direct message a
//! subscription's creator gets when the scheduler pauses it. The digest itself (posted by
//! [`crate::slack::outbound::digest_sink::SlackDigestSink`], previewed by `digest preview`) is
//! [`super::scorecard_message::render_digest`].

use chrono::{DateTime, Utc};

use super::base::{Blocks, Reply, code, join_lines};
use super::mrkdwn::escape;
use crate::handlers::digest::{DigestOutcome, Listed};
use crate::scorecards::schedule::Schedule;
use crate::scorecards::subscription::{PauseReason, Subscription};

/// Subscriptions a listing shows before "…and N more".
const LIST_LINES: usize = 40;

/// `<#C123>` for a Slack channel id (Slack shows its name); `#name` for anything else (the
/// shell's names), escaped.
pub fn channel_mention(id: &str) -> String {
    let is_slack_id = id.len() >= 2
        && id.len() <= 30
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if is_slack_id {
        format!("<#{id}>")
    } else {
        format!("#{}", escape(id))
    }
}

/// The group as people type it: `payments-platform`, or `other-namespace/team`.
fn group_name(s: &Subscription) -> String {
    let g = &s.group;
    if g.namespace
        .eq_ignore_ascii_case(crate::catalog::DEFAULT_NAMESPACE)
    {
        g.name.clone()
    } else {
        format!("{}/{}", g.namespace, g.name)
    }
}

/// A due instant on the schedule's own clock: `Mon 2026-03-30 09:00 CEST`.
fn local(at: DateTime<Utc>, schedule: &Schedule) -> String {
    at.with_timezone(&schedule.time_zone())
        .format("%a %Y-%m-%d %H:%M %Z")
        .to_string()
}

fn describe_stored(s: &Subscription) -> String {
    Schedule::parse(&s.schedule).map_or_else(|_| s.schedule.clone(), |p| p.describe())
}

/// Renders a `digest` outcome.
pub fn render(outcome: &DigestOutcome) -> Reply {
    let mut b = Blocks::default();
    match outcome {
        DigestOutcome::Subscribed {
            subscribed,
            schedule,
            next_due,
        } => {
            let s = &subscribed.subscription;
            let which = if subscribed.replaced.is_some() {
                "next"
            } else {
                "first"
            };
            let next = next_due.map_or_else(String::new, |t| {
                format!(" The {which} one is due {}.", local(t, schedule))
            });
            let head = match subscribed.replaced.as_deref() {
                None => format!(
                    ":white_check_mark: {} gets the scorecard digest of *{}* {}.{next}",
                    channel_mention(&s.channel_id),
                    escape(&group_name(s)),
                    escape(&schedule.describe()),
                ),
                Some(before) => {
                    let mut text = format!(
                        ":white_check_mark: {} already got the digest of *{}*; it now comes {} (was {}).{next}",
                        channel_mention(&s.channel_id),
                        escape(&group_name(s)),
                        escape(&schedule.describe()),
                        escape(&describe_stored(before)),
                    );
                    if let Some(p) = &before.paused {
                        text.push_str(&format!(
                            "\nIt was paused ({}) and is resumed.",
                            escape(&PauseReason::from_code(&p.reason).to_string())
                        ));
                    }
                    text
                }
            };
            b.section(head);
            let mut notes = vec![format!(
                "Subscription {}. `/idp digest unsubscribe {}` stops it.",
                code(&s.id),
                escape(&s.id)
            )];
            if !schedule.time_zone_given() {
                notes.push(
                    "No time zone was given, so the time is UTC. Add one at the end, e.g. `weekly mon 09:00 Europe/Berlin`.".to_owned(),
                );
            }
            b.context(notes);
            b.finish(&format!(
                "Digest of {} subscribed ({})",
                group_name(s),
                s.id
            ))
        }
        DigestOutcome::List {
            channel,
            subscriptions,
        } => {
            let place = channel
                .as_deref()
                .map_or_else(|| "any channel".to_owned(), channel_mention);
            if subscriptions.is_empty() {
                b.section(format!(
                    "No scorecard digests are posted in {place}. `/idp digest subscribe &lt;group&gt; &lt;schedule&gt;` starts one."
                ));
                return b.finish("No digest subscriptions");
            }
            b.header(&match channel {
                Some(_) => "Digests in this channel".to_owned(),
                None => "Digests in every channel".to_owned(),
            });
            let lines: Vec<String> = subscriptions.iter().map(list_line).collect();
            b.section(join_lines(&lines, super::base::MAX_SECTION, LIST_LINES));
            if channel.is_some() {
                b.context(vec![
                    "`/idp digest list all` shows every channel's.".to_owned(),
                ]);
            }
            b.finish(&format!("{} digest subscriptions", subscriptions.len()))
        }
        DigestOutcome::Unsubscribed(s) => {
            b.section(format!(
                ":wave: Unsubscribed {}: {} no longer gets the digest of *{}*.",
                code(&s.id),
                channel_mention(&s.channel_id),
                escape(&group_name(s))
            ));
            b.finish(&format!("Unsubscribed {}", s.id))
        }
        DigestOutcome::NoSuchSubscription(id) => {
            b.section(format!(
                "There is no digest subscription {}. `/idp digest list` shows this channel's, `/idp digest list all` every channel's.",
                code(id)
            ));
            b.finish(&format!("No digest subscription {id}"))
        }
        DigestOutcome::Preview(digest) => super::scorecard_message::render_digest(digest),
        DigestOutcome::PreviewUnavailable(why) => {
            b.section(format!("No digest to preview: {}.", escape(why)));
            b.finish("No digest to preview")
        }
        DigestOutcome::NoChannel => {
            b.section(
                "Say which channel gets the digest: `digest subscribe #channel &lt;group&gt; &lt;schedule&gt;`."
                    .to_owned(),
            );
            b.finish("Name the channel")
        }
    }
}

fn list_line(l: &Listed) -> String {
    let s = &l.subscription;
    let when = l
        .schedule
        .as_ref()
        .map_or_else(|| s.schedule.clone(), Schedule::describe);
    let mut line = format!(
        "• {} · {} · *{}* · {}",
        code(&s.id),
        channel_mention(&s.channel_id),
        escape(&group_name(s)),
        escape(&when)
    );
    match (&s.paused, l.next_due, &l.schedule) {
        (Some(p), _, _) => line.push_str(&format!(
            " · :double_vertical_bar: paused: {}",
            escape(&PauseReason::from_code(&p.reason).to_string())
        )),
        (None, Some(next), Some(schedule)) => {
            line.push_str(&format!(" · next {}", local(next, schedule)));
        }
        _ => {}
    }
    line
}

/// The direct message to a subscription's creator when it is paused: why, and how to fix it.
pub fn paused_notice(s: &Subscription, reason: &PauseReason) -> Reply {
    let mut b = Blocks::default();
    let channel = channel_mention(&s.channel_id);
    let group = escape(&group_name(s));
    b.section(format!(
        ":double_vertical_bar: The scorecard digest of *{group}* in {channel} (subscription {}) is paused: {}.",
        code(&s.id),
        escape(&reason.to_string())
    ));
    let resubscribe = code(&format!(
        "/idp digest subscribe {} {}",
        group_name(s),
        s.schedule
    ));
    let unsubscribe = code(&format!("/idp digest unsubscribe {}", s.id));
    let fix = match reason {
        PauseReason::ChannelNotFound => format!(
            "If the channel is private, invite idp to it (`/invite @idp`) and run {resubscribe} there to resume. If it was deleted, run {unsubscribe} and subscribe another channel."
        ),
        PauseReason::NotInChannel => format!(
            "Invite idp to the channel (`/invite @idp`) and run {resubscribe} there to resume, or run {unsubscribe}."
        ),
        PauseReason::ChannelArchived => format!(
            "Unarchive the channel and run {resubscribe} there to resume, or run {unsubscribe} and subscribe another channel."
        ),
        PauseReason::GroupGone => {
            format!("Run {unsubscribe}; if the team was renamed, subscribe its new name.")
        }
        PauseReason::Refused(_) => format!(
            "Ask a Slack admin why idp may not post there; then run {resubscribe} in the channel to resume, or run {unsubscribe}."
        ),
    };
    b.section(fix);
    b.finish(&format!("Digest {} paused: {}", s.id, reason))
}
