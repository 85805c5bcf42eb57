//! The real-time inbox (issue 29): tokens for one user's inbox (`token`),
//! the hub that turns the `outpost_inbox` notifications into deliveries for
//! the open streams (`hub`), and the SQL both read (`queries`). The HTTP
//! side is `crate::http::inbox`.

pub mod hub;
pub mod queries;
pub mod snapshot;
pub mod token;

pub use hub::{Handout, Hub, SubscribeError, Subscription};
pub use snapshot::Snapshot;
pub use token::{Claims, InboxTokenError, Keys};
