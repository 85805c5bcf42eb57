//! What every console handler shares ([`ConsoleState`]), and the console's
//! own database pool.

use std::sync::Arc;

use deadpool_postgres::Pool;

use super::{Settings, limiter};
use crate::config::Config;
use crate::render::Templates;

/// What every console handler shares.
#[derive(Clone)]
pub struct ConsoleState {
    pub pool: Pool,
    pub config: Arc<Config>,
    pub settings: Arc<Settings>,
    pub templates: Arc<Templates>,
    pub(crate) limits: Arc<limiter::LoginLimits>,
}

impl ConsoleState {
    pub fn new(pool: Pool, config: &Config, templates: Arc<Templates>) -> Self {
        Self {
            pool,
            settings: Arc::new(config.console.clone()),
            limits: Arc::new(limiter::LoginLimits::new(&config.console)),
            config: Arc::new(config.clone()),
            templates,
        }
    }
}
