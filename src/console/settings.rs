//! `[console]` settings: the type lives with the rest of the configuration
//! (`crate::config::ConsoleSettings`), so configuration depends on nothing here.

pub use crate::config::ConsoleSettings as Settings;
