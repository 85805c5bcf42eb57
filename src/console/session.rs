//! Who is asking: the signed-in [`Session`] and the [`Admin`] role as
//! extractors, and the layer that puts every protected route behind a live
//! session (a page redirects to the login form, a change is refused).

use crate::db::Pg;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};

use super::users::Role;
use super::{ConsoleError, ConsoleState, Result, auth, queries};

/// A signed-in console user, as the session layer found them.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: String,
    pub role: Role,
    /// The token every form of this session carries.
    pub csrf: String,
    /// Where the request came from (for the audit log).
    pub address: String,
    /// The one tenant this user sees and acts on; `None`: every tenant.
    pub tenant: Option<String>,
    pub(crate) token_hash: String,
    /// The database the pages show, when the daemon serves several.
    pub database: Option<std::sync::Arc<super::state::Databases>>,
}

impl Session {
    /// Whether this user may see a row of `tenant`.
    pub fn sees(&self, tenant: Option<&str>) -> bool {
        self.tenant.is_none() || self.tenant.as_deref() == tenant
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// A signed-in user who may change things, with the console they change
/// (its pool and configuration); a viewer is refused with 403.
#[derive(Clone)]
pub struct Admin {
    session: Session,
    pub state: ConsoleState,
}

impl std::ops::Deref for Admin {
    type Target = Session;
    fn deref(&self) -> &Session {
        &self.session
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        // Only a route outside the session layer finds none: refused.
        parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or(ConsoleError::Forbidden("Sign in first."))
    }
}

impl FromRequestParts<ConsoleState> for Admin {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &ConsoleState) -> Result<Self> {
        let session = Session::from_request_parts(parts, state).await?;
        if !session.is_admin() {
            return Err(ConsoleError::Forbidden("Viewers cannot change anything."));
        }
        Ok(Admin {
            session,
            state: state.clone(),
        })
    }
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The session a request's cookie names, if it is live (used within
/// `session_idle` and younger than `session_lifetime`); its idle timer restarts.
pub async fn find(
    state: &ConsoleState,
    headers: &HeaderMap,
    address: IpAddr,
) -> Result<Option<Session>> {
    let Some(token) = auth::cookie(headers, auth::cookie_name(&state.settings)) else {
        return Ok(None);
    };
    let token_hash = sha256_hex(&token);
    let client = state.home.get().await?;
    let row = client
        .pg_query_opt(
            queries::SESSION_TOUCH,
            &[
                &token_hash,
                &state.settings.session_idle.as_secs_f64(),
                &state.settings.session_lifetime.as_secs_f64(),
            ],
        )
        .await?;
    let Some(r) = row else {
        return Ok(None);
    };
    Ok(Some(Session {
        user: r.try_get("user_name")?,
        // An unknown role (the table's CHECK admits none) gets least privilege.
        role: r
            .try_get::<_, String>("role")?
            .parse()
            .unwrap_or(Role::Viewer),
        csrf: r.try_get("csrf_token")?,
        address: address.to_string(),
        tenant: r.try_get("tenant")?,
        token_hash,
        database: state.database.clone(),
    }))
}

/// The layer of every protected route: finds the live session and hands it
/// on; without one a page redirects to the login form (coming back after)
/// and a change is refused.
pub async fn require(State(state): State<ConsoleState>, request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let address = auth::client_address(&state.settings, peer, request.headers());
    match find(&state, request.headers(), address).await {
        Ok(Some(session)) => {
            let mut request = request;
            request.extensions_mut().insert(session);
            next.run(request).await
        }
        Ok(None) if !matches!(*request.method(), Method::GET | Method::HEAD) => {
            ConsoleError::Forbidden("Sign in first.").into_response()
        }
        Ok(None) => {
            let next_path = request
                .uri()
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned();
            let query = serde_urlencoded::to_string([("next", next_path)]).unwrap_or_default();
            Redirect::to(&format!("/login?{query}")).into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// The layer of the pages that see or configure every tenant (servers, apps,
/// messaging, suppressions, pauses, schedules, the audit log):
/// a user scoped to one tenant is refused them.
pub async fn every_tenant(request: Request, next: Next) -> Response {
    match request.extensions().get::<Session>() {
        Some(session) if session.tenant.is_none() => next.run(request).await,
        Some(_) => ConsoleError::Forbidden(
            "This page shows every tenant; your console user sees one tenant only.",
        )
        .into_response(),
        None => ConsoleError::Forbidden("Sign in first.").into_response(),
    }
}
