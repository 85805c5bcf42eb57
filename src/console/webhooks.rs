//! `/webhooks`: the endpoints of `outpost.webhook_endpoints` (add, enable,
//! disable), each endpoint's deliveries with their last answer, and the
//! replay of one delivery. A secret is never shown: a prefix (`whsec_ab…`)
//! only; one typed into the add form is write-only, and one generated there
//! is read from SQL by the schema's owner (see docs/webhooks.md).

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::audit::{self, Action, Change, Ending};
use super::csrf::{Csrf, CsrfForm};
use super::form::{Refusal, Switch, respond};
use super::format::time;
use super::pages;
use super::session::{Admin, Session};
use super::{ConsoleState, Result, queries};
use crate::channel::webhook::{EVENT_TYPES, signing};
use crate::db::Pg;

#[derive(Serialize, Default)]
struct Endpoint {
    id: i64,
    url: String,
    tenant: Option<String>,
    event_types: Vec<String>,
    enabled: bool,
    disabled_reason: Option<String>,
    description: Option<String>,
    secret_hint: String,
    created_by: String,
    created_at: String,
    pending: i64,
    failed: i64,
}

from_row!(Endpoint {
    id,
    url,
    tenant,
    event_types,
    enabled,
    disabled_reason,
    description,
    secret_hint,
    created_by,
    created_at => time,
    pending,
    failed,
});

fn audited(e: &Endpoint) -> Value {
    json!({
        "id": e.id, "url": e.url, "tenant": e.tenant, "event_types": e.event_types,
        "enabled": e.enabled, "description": e.description, "secret": e.secret_hint,
    })
}

#[derive(Serialize)]
struct Delivery {
    id: i64,
    event_type: Option<String>,
    webhook_id: Option<String>,
    replay_of: Option<i64>,
    status: String,
    attempts: i32,
    last_error: Option<String>,
    created_at: String,
    finished_at: Option<String>,
    last_code: Option<String>,
}

from_row!(Delivery {
    id,
    event_type,
    webhook_id,
    replay_of,
    status,
    attempts,
    last_error,
    created_at => time,
    finished_at => |t: Option<chrono::DateTime<chrono::Utc>>| t.map(time),
    last_code,
});

/// The list page, with the add form.
#[derive(Serialize, Default)]
pub(super) struct WebhooksPage {
    endpoints: Vec<Endpoint>,
    event_types: Vec<&'static str>,
    form: AddForm,
    error: Option<Refusal>,
}

/// One endpoint and its deliveries.
#[derive(Serialize, Default)]
pub(super) struct EndpointPage {
    endpoint: Endpoint,
    deliveries: Vec<Delivery>,
    next: Option<i64>,
}

page! {
    WebhooksPage => "webhooks.html", "webhooks";
    EndpointPage => "webhook.html", "webhooks";
}

const PAGE: i64 = 100;

/// `GET /webhooks`.
pub async fn list(State(state): State<ConsoleState>, session: Session) -> Result<Html<String>> {
    list_page(&state, &session, AddForm::default(), None).await
}

async fn list_page(
    state: &ConsoleState,
    session: &Session,
    form: AddForm,
    error: Option<Refusal>,
) -> Result<Html<String>> {
    let client = state.pool.get().await?;
    let rows = client.pg_query(queries::WEBHOOK_LIST, &[]).await?;
    let page = WebhooksPage {
        endpoints: queries::decode(&rows)?,
        event_types: EVENT_TYPES.to_vec(),
        form,
        error,
    };
    pages::render(session, &page)
}

/// The add form as posted (`events` once per ticked box).
/// The add form, as posted and as echoed back (never the secret).
#[derive(Debug, Serialize, Default)]
pub struct AddForm {
    url: String,
    tenant: String,
    description: String,
    #[serde(skip_serializing)]
    secret: String,
    events: Vec<String>,
}

impl AddForm {
    fn check(&self) -> Result<(), Refusal> {
        let url = reqwest::Url::parse(self.url.trim())
            .map_err(|_| Refusal::new("URL", "an http(s) URL such as https://app.example/hooks"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(Refusal::new("URL", "an http(s) URL with a host"));
        }
        if self.events.is_empty()
            || self
                .events
                .iter()
                .any(|e| !EVENT_TYPES.contains(&e.as_str()))
        {
            return Err(Refusal::new("events", "tick at least one event type"));
        }
        if !self.secret.is_empty() && signing::SigningKey::from_secret(&self.secret).is_err() {
            return Err(Refusal::new(
                "secret",
                "whsec_ and a base64 key, or empty to generate one",
            ));
        }
        Ok(())
    }
}

fn endpoint_url(id: i64) -> String {
    format!("/webhooks/{id}")
}

fn object(id: i64) -> String {
    format!("webhook endpoint {id}")
}

/// `POST /webhooks`: add an endpoint (read as pairs: a ticked event type
/// is one `events` field each, which a struct cannot collect).
pub async fn create(
    admin: Admin,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<Response> {
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let form = AddForm {
        url: field("url"),
        tenant: field("tenant"),
        description: field("description"),
        secret: field("secret"),
        events: pairs
            .iter()
            .filter(|(k, _)| k == "events")
            .map(|(_, v)| v.clone())
            .collect(),
    };
    if let Err(e) = form.check() {
        let page = list_page(&admin.state, &admin, form, Some(e.clone())).await?;
        return Ok(respond(page, Some(&e)));
    }
    let secret = if form.secret.is_empty() {
        signing::new_secret()
    } else {
        form.secret.trim().to_owned()
    };
    let mut events = form.events.clone();
    events.sort();
    events.dedup();
    let tenant = Some(form.tenant.trim()).filter(|t| !t.is_empty());
    let description = Some(form.description.trim()).filter(|t| !t.is_empty());
    audit::change(&admin, async |tx| {
        let id: i64 = tx
            .pg_query_one(
                queries::WEBHOOK_INSERT,
                &[
                    &form.url.trim(),
                    &secret,
                    &events,
                    &tenant,
                    &description,
                    &admin.user,
                ],
            )
            .await?
            .try_get("id")?;
        let after = load(tx, id).await?;
        let change = Change::new(Action::WebhookAdd, object(id)).after(audited(&after));
        Ok(Ending::Changed(
            change,
            Redirect::to(&endpoint_url(id)).into_response(),
        ))
    })
    .await
}

async fn load(client: &impl Pg, id: i64) -> Result<Endpoint> {
    Ok(Endpoint::try_from(
        &queries::found(client, queries::WEBHOOK_GET, &[&id]).await?,
    )?)
}

#[derive(Deserialize)]
pub struct DeliveriesQuery {
    before: Option<i64>,
}

/// `GET /webhooks/{id}`: the endpoint and its newest deliveries.
pub async fn page(
    State(state): State<ConsoleState>,
    session: Session,
    Path(id): Path<i64>,
    Query(q): Query<DeliveriesQuery>,
) -> Result<Html<String>> {
    let client = state.pool.get().await?;
    let endpoint = load(&client, id).await?;
    let rows = client
        .pg_query(queries::WEBHOOK_DELIVERIES, &[&id, &q.before, &PAGE])
        .await?;
    let deliveries: Vec<Delivery> = queries::decode(&rows)?;
    let next = queries::next_key(&deliveries, PAGE, |d| d.id);
    pages::render(
        &session,
        &EndpointPage {
            endpoint,
            deliveries,
            next,
        },
    )
}

/// `POST /webhooks/{id}/enable` and `…/disable` (disabling cancels its
/// queued deliveries).
pub async fn switch(
    admin: Admin,
    Path((id, to)): Path<(i64, Switch)>,
    _: Csrf,
) -> Result<Response> {
    let reason = format!("disabled in the console by {}", admin.user);
    audit::change(&admin, async |tx| {
        let before = load(tx, id).await?;
        tx.pg_query_one(queries::WEBHOOK_ENABLE, &[&id, &to.on(), &reason])
            .await?;
        let after = load(tx, id).await?;
        let action = to.pick(Action::WebhookEnable, Action::WebhookDisable);
        let change = Change::new(action, object(id))
            .before(audited(&before))
            .after(audited(&after));
        Ok(Ending::Changed(
            change,
            Redirect::to("/webhooks").into_response(),
        ))
    })
    .await
}

/// `POST /webhooks/deliveries/{id}/replay`: a copy of the delivery, queued
/// now (same body and webhook-id, signed anew).
pub async fn replay(admin: Admin, Path(id): Path<i64>, _: Csrf) -> Result<Response> {
    audit::change(&admin, async |tx| {
        let row = queries::found(tx, queries::WEBHOOK_REPLAY, &[&id]).await?;
        let (copy, endpoint): (i64, i64) = (row.try_get("id")?, row.try_get("endpoint_id")?);
        let change = Change::new(Action::WebhookReplay, format!("webhook delivery {id}"))
            .after(json!({"replay": copy, "endpoint": endpoint}));
        Ok(Ending::Changed(
            change,
            Redirect::to(&endpoint_url(endpoint)).into_response(),
        ))
    })
    .await
}
