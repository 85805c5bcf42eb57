//! One module per `outpost` command (and the logging and signal handling the
//! daemon commands share).

pub(crate) mod config;
pub(crate) mod console;
pub(crate) mod dev;
pub(crate) mod inbox;
pub(crate) mod logging;
pub(crate) mod migrate;
pub(crate) mod pause;
pub(crate) mod push;
pub(crate) mod run;
pub(crate) mod send;
pub(crate) mod status;
pub(crate) mod templates;
pub(crate) mod tenant;
