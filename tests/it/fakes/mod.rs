pub mod pagerduty;
