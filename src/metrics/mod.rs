//! Prometheus metrics: sends by kind, provider and outcome with their
//! latency, inbound and webhook requests by result, and the queue's depth and
//! oldest message, which `refresh` reads from the database in the background
//! (a scrape reads memory only). A daemon serving several databases labels
//! each series of a database's own with `database` (see
//! [`Metrics::in_database`]); one serving a single database does not.

pub mod refresh;

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::{EncodeLabel, EncodeLabelSet, LabelSetEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The `database` label: absent for a daemon serving one database.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq)]
struct Database(Option<Arc<str>>);

impl EncodeLabelSet for Database {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        match &self.0 {
            Some(name) => ("database", &**name).encode(encoder.encode_label()),
            None => Ok(()),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SendLabels {
    #[prometheus(flatten)]
    database: Database,
    kind: String,
    provider: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LatencyLabels {
    #[prometheus(flatten)]
    database: Database,
    kind: String,
    provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    #[prometheus(flatten)]
    database: Database,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    endpoint: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    #[prometheus(flatten)]
    database: Database,
    kind: String,
    status: String,
}

/// The process's metrics, or (from [`Metrics::in_database`]) one
/// database's view of them: the same series, labelled with its name.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    database: Database,
    sends: Family<SendLabels, Counter>,
    latency: Family<LatencyLabels, Histogram>,
    deferrals: Family<LatencyLabels, Counter>,
    leases_lost: Family<KindLabels, Counter>,
    requests: Family<ResultLabels, Counter>,
    queue: Family<QueueLabels, Gauge>,
    /// The queue series this database set last (a refresh replaces them).
    queue_set: Arc<Mutex<Vec<QueueLabels>>>,
    oldest: Family<Database, Gauge<f64, AtomicU64>>,
    refresh_seconds: Family<Database, Gauge<f64, AtomicU64>>,
    refresh_errors: Family<Database, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("outpost");
        let sends = Family::<SendLabels, Counter>::default();
        registry.register(
            "sends",
            "Delivery attempts by kind, provider and outcome",
            sends.clone(),
        );
        let latency = Family::<LatencyLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 16))
        });
        registry.register(
            "send_duration_seconds",
            "Provider call duration",
            latency.clone(),
        );
        let deferrals = Family::<LatencyLabels, Counter>::default();
        registry.register(
            "deferrals",
            "Messages sent back to the queue unsent because their provider's circuit was open",
            deferrals.clone(),
        );
        let leases_lost = Family::<KindLabels, Counter>::default();
        registry.register(
            "leases_lost_before_send",
            "Claimed messages not sent because the lease ran out before the send could begin",
            leases_lost.clone(),
        );
        let requests = Family::<ResultLabels, Counter>::default();
        registry.register(
            "http_requests",
            "Inbound mail and webhook requests by endpoint and result",
            requests.clone(),
        );
        let queue = Family::<QueueLabels, Gauge>::default();
        registry.register(
            "messages",
            "Messages waiting (queued) and in flight (sending) by kind, as of the last refresh",
            queue.clone(),
        );
        let oldest = Family::<Database, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "oldest_queued_seconds",
            "Age of the oldest due queued message",
            oldest.clone(),
        );
        let refresh_seconds = Family::<Database, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "queue_refresh_seconds",
            "How long the last background read of the queue gauges took",
            refresh_seconds.clone(),
        );
        let refresh_errors = Family::<Database, Counter>::default();
        registry.register(
            "queue_refresh_errors",
            "Background reads of the queue gauges that failed (the gauges keep their last values)",
            refresh_errors.clone(),
        );
        Self {
            registry: Arc::new(registry),
            database: Database::default(),
            queue_set: Arc::default(),
            sends,
            latency,
            deferrals,
            leases_lost,
            requests,
            queue,
            oldest,
            refresh_seconds,
            refresh_errors,
        }
    }

    /// The same metrics, each series this view sets labelled with
    /// `database` (one of several the daemon serves).
    pub fn in_database(&self, database: &str) -> Metrics {
        Metrics {
            database: Database(Some(database.into())),
            queue_set: Arc::default(),
            ..self.clone()
        }
    }

    /// One finished attempt.
    pub fn send(&self, kind: &str, provider: &str, outcome: &str, seconds: f64) {
        self.sends
            .get_or_create(&SendLabels {
                database: self.database.clone(),
                kind: kind.into(),
                provider: provider.into(),
                outcome: outcome.into(),
            })
            .inc();
        self.latency
            .get_or_create(&LatencyLabels {
                database: self.database.clone(),
                kind: kind.into(),
                provider: provider.into(),
            })
            .observe(seconds);
    }

    /// One message deferred by `provider`'s open circuit.
    pub fn deferral(&self, kind: &str, provider: &str) {
        self.deferrals
            .get_or_create(&LatencyLabels {
                database: self.database.clone(),
                kind: kind.into(),
                provider: provider.into(),
            })
            .inc();
    }

    /// One claimed message not sent because its lease ran out first.
    pub fn lease_lost(&self, kind: &str) {
        self.leases_lost
            .get_or_create(&KindLabels {
                database: self.database.clone(),
                kind: kind.into(),
            })
            .inc();
    }

    /// One inbound or webhook request (`result`: stored, duplicate, unauthorized, invalid…).
    pub fn request(&self, endpoint: &str, result: &str) {
        self.requests
            .get_or_create(&ResultLabels {
                endpoint: endpoint.into(),
                result: result.into(),
            })
            .inc();
    }

    /// Sets this database's queue gauges from fresh counts, read in `seconds`.
    pub fn set_queue(&self, counts: &[(String, String, i64)], oldest_seconds: f64, seconds: f64) {
        let mut set = self.queue_set.lock().unwrap_or_else(|e| e.into_inner());
        for labels in set.drain(..) {
            self.queue.remove(&labels);
        }
        for (kind, status, n) in counts {
            let labels = QueueLabels {
                database: self.database.clone(),
                kind: kind.clone(),
                status: status.clone(),
            };
            self.queue.get_or_create(&labels).set(*n);
            set.push(labels);
        }
        self.oldest
            .get_or_create(&self.database)
            .set(oldest_seconds);
        self.refresh_seconds
            .get_or_create(&self.database)
            .set(seconds);
    }

    /// One failed background read of the queue gauges.
    pub fn refresh_failed(&self) {
        self.refresh_errors.get_or_create(&self.database).inc();
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
