//! What every console handler shares ([`ConsoleState`]), and the console's
//! own database pools: the one its pages show, and the one its users and
//! sessions live in (the first database, when the daemon serves several).

use std::sync::Arc;

use deadpool_postgres::Pool;

use super::{Settings, limiter};
use crate::config::Config;
use crate::render::Templates;

/// What every console handler shares.
#[derive(Clone)]
pub struct ConsoleState {
    /// The database the pages show and act on.
    pub pool: Pool,
    /// The database of the console's users and sessions.
    pub home: Pool,
    /// This state's database's name and every database's, when the daemon
    /// serves several (`None`: one).
    pub database: Option<Arc<Databases>>,
    pub config: Arc<Config>,
    pub settings: Arc<Settings>,
    pub templates: Arc<Templates>,
    pub(crate) limits: Arc<limiter::LoginLimits>,
}

impl ConsoleState {
    pub fn new(pool: Pool, config: &Config, templates: Arc<Templates>) -> Self {
        Self {
            home: pool.clone(),
            database: None,
            pool,
            settings: Arc::new(config.console.clone()),
            limits: Arc::new(limiter::LoginLimits::new(&config.console)),
            config: Arc::new(config.clone()),
            templates,
        }
    }
}

/// Which of several databases a console state shows.
#[derive(Debug)]
pub struct Databases {
    /// Its name.
    pub current: String,
    /// Every database's, in `database.urls` order.
    pub names: Vec<String>,
}

impl ConsoleState {
    /// The same console showing `database` (one of `names`) through `pool`,
    /// its users and sessions still in this state's home database.
    pub fn showing(&self, database: &str, pool: Pool, names: Vec<String>) -> Self {
        Self {
            pool,
            database: Some(Arc::new(Databases {
                current: database.to_owned(),
                names,
            })),
            ..self.clone()
        }
    }
}
