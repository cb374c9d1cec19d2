//! idp to Slack: the Web API client over slack-morphism ([`client`]), what idp learns about
//! channels ([`channels`]) and people ([`directory`]), and the sinks that post run status
//! ([`run_notifier`]) and scorecard digests ([`digest_sink`]).

pub mod channels;
pub mod client;
pub mod digest_sink;
pub mod directory;
pub mod run_notifier;
