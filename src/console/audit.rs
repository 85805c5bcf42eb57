//! The audit log: every change made through the console ([`Action`]), with
//! who made it, from where, when, and the object before and after, written in
//! the change's own transaction ([`change`]); and its page.

use crate::db::Pg;
use std::fmt;

use axum::extract::{Query, State};
use axum::response::Html;
use deadpool_postgres::Transaction;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::format::time;
use super::pages;
use super::session::{Admin, Session};
use super::{ConsoleState, Result, queries};

/// What a console change is, as the audit log names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    MessageRetry,
    MessageCancel,
    MessagesBulkRetry,
    MessagesBulkCancel,
    SmtpServerAdd,
    SmtpServerEdit,
    SmtpServerEnable,
    SmtpServerDisable,
    SmtpServerMoveUp,
    SmtpServerMoveDown,
    SmtpServerDelete,
    SmtpServerSendTest,
    PushAppAdd,
    PushAppEdit,
    PushAppEnable,
    PushAppDisable,
    PushAppTestPush,
    MessagingAdd,
    MessagingEdit,
    MessagingRemove,
    SuppressionAdd,
    SuppressionRemove,
    ScheduleEnable,
    ScheduleDisable,
    ScheduleFire,
    WebhookAdd,
    WebhookEnable,
    WebhookDisable,
    WebhookReplay,
}

impl Action {
    /// The name stored in `outpost.console_audit.action`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::MessageRetry => "message.retry",
            Action::MessageCancel => "message.cancel",
            Action::MessagesBulkRetry => "messages.bulk_retry",
            Action::MessagesBulkCancel => "messages.bulk_cancel",
            Action::SmtpServerAdd => "smtp_server.add",
            Action::SmtpServerEdit => "smtp_server.edit",
            Action::SmtpServerEnable => "smtp_server.enable",
            Action::SmtpServerDisable => "smtp_server.disable",
            Action::SmtpServerMoveUp => "smtp_server.move_up",
            Action::SmtpServerMoveDown => "smtp_server.move_down",
            Action::SmtpServerDelete => "smtp_server.delete",
            Action::SmtpServerSendTest => "smtp_server.send_test",
            Action::PushAppAdd => "push_app.add",
            Action::PushAppEdit => "push_app.edit",
            Action::PushAppEnable => "push_app.enable",
            Action::PushAppDisable => "push_app.disable",
            Action::PushAppTestPush => "push_app.test_push",
            Action::MessagingAdd => "messaging.add",
            Action::MessagingEdit => "messaging.edit",
            Action::MessagingRemove => "messaging.remove",
            Action::SuppressionAdd => "suppression.add",
            Action::SuppressionRemove => "suppression.remove",
            Action::ScheduleEnable => "schedule.enable",
            Action::ScheduleDisable => "schedule.disable",
            Action::ScheduleFire => "schedule.fire",
            Action::WebhookAdd => "webhook.add",
            Action::WebhookEnable => "webhook.enable",
            Action::WebhookDisable => "webhook.disable",
            Action::WebhookReplay => "webhook.replay",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One change for the audit log: what, to which object, and the object
/// before and after. `before`/`after` never hold secrets: callers pass rows
/// with their secrets replaced by "set"/"not set".
#[derive(Debug, Clone)]
pub struct Change {
    action: Action,
    object: String,
    before: Option<Value>,
    after: Option<Value>,
}

impl Change {
    pub fn new(action: Action, object: impl Into<String>) -> Self {
        Self {
            action,
            object: object.into(),
            before: None,
            after: None,
        }
    }

    /// The object before the change (`None`: it did not exist).
    pub fn before(mut self, before: impl Into<Option<Value>>) -> Self {
        self.before = before.into();
        self
    }

    /// The object after the change (`None`: it is gone).
    pub fn after(mut self, after: impl Into<Option<Value>>) -> Self {
        self.after = after.into();
        self
    }
}

/// How a change's transaction ends.
pub enum Ending<T> {
    /// Committed, with this entry in the audit log.
    Changed(Change, T),
    /// Committed without an entry: nothing changed.
    Unchanged(T),
    /// Rolled back: the change was refused.
    Refused(T),
}

impl From<Change> for Ending<()> {
    fn from(change: Change) -> Self {
        Ending::Changed(change, ())
    }
}

/// Records one change outside a transaction of its own (a test send).
pub async fn record(client: &impl Pg, admin: &Admin, change: &Change) -> Result<()> {
    client
        .pg_execute(
            queries::AUDIT_INSERT,
            &[
                &admin.user,
                &admin.address,
                &change.action.as_str(),
                &change.object,
                &change.before,
                &change.after,
            ],
        )
        .await?;
    Ok(())
}

/// Runs `apply` in one transaction on `admin`'s console and ends it as its
/// [`Ending`] says, recording the change in the same transaction.
pub async fn change<T>(
    admin: &Admin,
    apply: impl AsyncFnOnce(&Transaction<'_>) -> Result<Ending<T>>,
) -> Result<T> {
    let mut client = admin.state.pool.get().await?;
    let tx = client.transaction().await?;
    match apply(&tx).await? {
        Ending::Changed(change, value) => {
            record(&tx, admin, &change).await?;
            tx.commit().await?;
            Ok(value)
        }
        Ending::Unchanged(value) => {
            tx.commit().await?;
            Ok(value)
        }
        Ending::Refused(value) => Ok(value),
    }
}

#[derive(Deserialize)]
pub struct AuditQuery {
    before: Option<i64>,
    actor: Option<String>,
}

/// One entry as the page shows it.
#[derive(Serialize)]
struct Entry {
    id: i64,
    at: String,
    actor: String,
    address: Option<String>,
    action: String,
    object: String,
    before: Option<String>,
    after: Option<String>,
}

from_row!(Entry {
    id,
    at => time,
    actor,
    address,
    action,
    object,
    before => pretty,
    after => pretty,
});

/// A JSON value as the page shows it.
fn pretty(v: Option<Value>) -> Option<String> {
    v.map(|v| serde_json::to_string_pretty(&v).unwrap_or_default())
}

/// The page: a page of entries, the actor filtered on, the next page's key.
#[derive(Serialize, Default)]
pub(super) struct AuditPage {
    entries: Vec<Entry>,
    next: Option<i64>,
    actor: Option<String>,
}

page! {
    AuditPage => "audit.html", "audit";
}

const PAGE: i64 = 100;

/// `GET /audit-log`: newest first, 100 a page.
pub async fn page(
    State(state): State<ConsoleState>,
    session: Session,
    Query(q): Query<AuditQuery>,
) -> Result<Html<String>> {
    let client = state.pool.get().await?;
    let actor = q.actor.filter(|a| !a.trim().is_empty());
    let rows = client
        .pg_query(queries::AUDIT_PAGE, &[&q.before, &actor, &PAGE])
        .await?;
    let entries: Vec<Entry> = queries::decode(&rows)?;
    let next = queries::next_key(&entries, PAGE, |e| e.id);
    pages::render(
        &session,
        &AuditPage {
            entries,
            next,
            actor,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::Action;

    #[test]
    fn actions_are_named_thing_dot_verb() {
        assert_eq!(Action::SmtpServerMoveUp.to_string(), "smtp_server.move_up");
        assert_eq!(Action::MessagesBulkCancel.as_str(), "messages.bulk_cancel");
        assert_eq!(Action::PushAppTestPush.as_str(), "push_app.test_push");
    }
}
