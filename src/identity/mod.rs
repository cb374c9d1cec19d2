//! Identity: mapping a Slack caller to a catalog User.
