//! A channel for tests: records every send it receives and answers as told.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use outpost::channel::{Channel, Delivery, Envelope, SendError};
use outpost::message::MessageId;

type Rule = dyn Fn(&Envelope) -> Result<Delivery, SendError> + Send + Sync;

/// Records sends; its answer comes from a rule (accept all by default).
pub struct Recorder {
    name: String,
    pub sent: Mutex<Vec<(MessageId, i32, String)>>,
    rule: Box<Rule>,
    /// When set, every send waits on it first (to hold messages in flight).
    pub gate: Option<Arc<tokio::sync::Semaphore>>,
    /// Sends that reached the channel (waiting at the gate or done).
    arrived: AtomicUsize,
}

impl Recorder {
    pub fn accepting(name: &str) -> Arc<Self> {
        Self::with_rule(name, |e| {
            Ok(Delivery::id(Some(format!("rec-{}", e.message.id))))
        })
    }

    pub fn with_rule(
        name: &str,
        rule: impl Fn(&Envelope) -> Result<Delivery, SendError> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            name: name.to_owned(),
            sent: Mutex::new(Vec::new()),
            rule: Box::new(rule),
            gate: None,
            arrived: AtomicUsize::new(0),
        })
    }

    pub fn gated(name: &str, gate: Arc<tokio::sync::Semaphore>) -> Arc<Self> {
        Arc::new(Self {
            name: name.to_owned(),
            sent: Mutex::new(Vec::new()),
            rule: Box::new(|_| Ok(Delivery::default())),
            gate: Some(gate),
            arrived: AtomicUsize::new(0),
        })
    }

    /// Sends that reached the channel, including those waiting at the gate.
    pub fn arrived(&self) -> usize {
        self.arrived.load(Ordering::SeqCst)
    }

    pub fn count(&self) -> usize {
        self.sent.lock().unwrap().len()
    }

    /// How many times each message was sent.
    pub fn per_message(&self) -> HashMap<MessageId, usize> {
        let mut counts = HashMap::new();
        for (id, _, _) in self.sent.lock().unwrap().iter() {
            *counts.entry(*id).or_insert(0) += 1;
        }
        counts
    }
}

#[async_trait]
impl Channel for Recorder {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, envelope: &Envelope) -> Result<Delivery, SendError> {
        self.arrived.fetch_add(1, Ordering::SeqCst);
        if let Some(gate) = &self.gate {
            let _permit = gate
                .acquire()
                .await
                .map_err(|_| SendError::transient("gate closed"))?;
        }
        self.sent.lock().unwrap().push((
            envelope.message.id,
            envelope.message.attempt,
            envelope.to.clone(),
        ));
        (self.rule)(envelope)
    }
}
