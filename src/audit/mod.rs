//! The audit log: an append-only, hash-chained record of every command, decision and action.
