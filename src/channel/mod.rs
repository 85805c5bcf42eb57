//! The `Channel` trait every delivery backend implements, its error that says
//! what to do next, and the registry that picks a channel for a message.

pub mod airship;
pub mod chat;
pub mod email;
pub mod provider_http;
pub mod stdout;
mod text;
pub mod twilio;
pub mod webhook;

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::message::{ClaimedMessage, Kind};

/// A message ready to hand to a provider: the claimed row and the address the
/// recipient resolved to for its kind.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub message: ClaimedMessage,
    /// E-mail address, E.164 number, push named user or channel id, or chat user.
    pub to: String,
    /// The locale to render in: the message's, else the recipient's, else the default.
    pub locale: String,
}

/// What a provider said when it accepted a message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    pub provider_message_id: Option<String>,
    /// Recorded on the attempt: e.g. that a fallback voice language was used.
    pub note: Option<String>,
    /// SMS segments the provider will bill.
    pub segments: Option<i32>,
}

impl Delivery {
    /// Accepted, with the provider's id for the message.
    pub fn id(provider_message_id: Option<String>) -> Self {
        Self {
            provider_message_id,
            ..Self::default()
        }
    }
}

/// What the dispatcher should do after a failed send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Worth retrying later with backoff (timeouts, 5xx, connection resets).
    Transient,
    /// The provider asked us to slow down; retry after its delay when given.
    RateLimited { retry_after: Option<Duration> },
    /// Retrying cannot help (bad address, rejected content, bad credentials).
    Permanent,
}

/// A failed send, classified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    pub class: ErrorClass,
    /// The provider's own error code or HTTP status, when it gave one.
    pub code: Option<String>,
    pub message: String,
}

impl SendError {
    pub fn transient(message: impl Into<String>) -> Self {
        Self {
            class: ErrorClass::Transient,
            code: None,
            message: message.into(),
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            class: ErrorClass::Permanent,
            code: None,
            message: message.into(),
        }
    }

    pub fn rate_limited(retry_after: Option<Duration>, message: impl Into<String>) -> Self {
        Self {
            class: ErrorClass::RateLimited { retry_after },
            code: None,
            message: message.into(),
        }
    }

    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }
}

/// A delivery backend for one or more kinds.
#[async_trait]
pub trait Channel: Send + Sync {
    /// The provider name recorded in `attempts.provider` and matched against
    /// `messages.provider`.
    fn name(&self) -> &str;

    /// The circuit breaker a send of `message` counts towards: the
    /// channel's own (its name) unless it keeps one per destination (the
    /// webhook channel, one per endpoint).
    fn circuit<'a>(&'a self, message: &'a ClaimedMessage) -> Cow<'a, str> {
        let _ = message;
        Cow::Borrowed(self.name())
    }

    async fn send(&self, envelope: &Envelope) -> Result<Delivery, SendError>;
}

/// The channels a dispatcher may use: a default per kind, plus every named
/// channel that `messages.provider` can force.
#[derive(Clone, Default)]
pub struct Channels {
    defaults: HashMap<Kind, Arc<dyn Channel>>,
    named: HashMap<(Kind, String), Arc<dyn Channel>>,
    fallbacks: HashMap<Kind, Arc<dyn Channel>>,
}

impl fmt::Debug for Channels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<String> = self
            .named
            .keys()
            .map(|(kind, name)| format!("{kind}:{name}"))
            .collect();
        names.sort();
        f.debug_struct("Channels").field("named", &names).finish()
    }
}

/// Why no channel could be chosen for a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelLookupError {
    #[error("no {0} channel is configured")]
    NoDefault(Kind),
    #[error("unknown provider {provider:?} for {kind} messages (configured: {known})")]
    UnknownProvider {
        kind: Kind,
        provider: String,
        known: String,
    },
}

impl Channels {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `channel` under its name for `kind`, and as the kind's default
    /// when `default` is set.
    pub fn register(&mut self, kind: Kind, channel: Arc<dyn Channel>, default: bool) {
        if default {
            self.defaults.insert(kind, channel.clone());
        }
        self.named
            .insert((kind, channel.name().to_owned()), channel);
    }

    /// Uses `channel` for `kind` while the default's circuit is open.
    pub fn set_fallback(&mut self, kind: Kind, channel: Arc<dyn Channel>) {
        self.fallbacks.insert(kind, channel);
    }

    /// The fallback for `kind`, if one is configured.
    pub fn fallback(&self, kind: Kind) -> Option<&Arc<dyn Channel>> {
        self.fallbacks.get(&kind)
    }

    /// Registers one channel for every kind, as the default.
    pub fn with_default_for_all(channel: Arc<dyn Channel>) -> Self {
        let mut channels = Self::new();
        for kind in Kind::ALL {
            channels.register(kind, channel.clone(), true);
        }
        channels
    }

    /// The channel for a message: the forced provider if it names one, else the default.
    pub fn pick(
        &self,
        kind: Kind,
        provider: Option<&str>,
    ) -> Result<&Arc<dyn Channel>, ChannelLookupError> {
        match provider.map(str::trim).filter(|p| !p.is_empty()) {
            Some(name) => self.named.get(&(kind, name.to_owned())).ok_or_else(|| {
                ChannelLookupError::UnknownProvider {
                    kind,
                    provider: name.to_owned(),
                    known: self.known(kind),
                }
            }),
            None => self
                .defaults
                .get(&kind)
                .ok_or(ChannelLookupError::NoDefault(kind)),
        }
    }

    fn known(&self, kind: Kind) -> String {
        let mut names: Vec<&str> = self
            .named
            .keys()
            .filter(|(k, _)| *k == kind)
            .map(|(_, n)| n.as_str())
            .collect();
        names.sort_unstable();
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    }
}
