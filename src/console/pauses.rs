//! `POST /pauses` and `POST /pauses/resume`: an admin pauses or resumes a
//! kind, a provider or a tenant from the overview (which lists the pauses in
//! force); audited with the console user and their address.

use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::csrf::CsrfForm;
use super::form::Refusal;
use super::session::Admin;
use super::{ConsoleError, Result};
use crate::pause::{self, Actor, Scope};

/// The overview's pause form.
#[derive(Deserialize)]
pub struct PauseForm {
    scope: Scope,
    name: String,
    #[serde(default)]
    reason: String,
}

/// The resume button of a pause.
#[derive(Deserialize)]
pub struct ResumeForm {
    scope: Scope,
    name: String,
}

/// What is paused: a name that is not blank (and, for a kind, a kind).
fn target(scope: Scope, name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.len() > 1024 {
        return Err(ConsoleError::Refused(Refusal::new(
            "name",
            "name a kind, a provider or a tenant (at most 1,024 bytes)",
        )));
    }
    if scope == Scope::Kind && name.parse::<crate::message::Kind>().is_err() {
        return Err(ConsoleError::Refused(Refusal::new(
            "name",
            "a kind is email, sms, voice, push or chat",
        )));
    }
    Ok(name.to_owned())
}

/// `POST /pauses`.
pub async fn pause(admin: Admin, CsrfForm(form): CsrfForm<PauseForm>) -> Result<Response> {
    let name = target(form.scope, &form.name)?;
    let reason = Some(form.reason.trim()).filter(|r| !r.is_empty());
    let client = admin.state.pool.get().await?;
    let actor = Actor {
        name: &admin.user,
        address: Some(&admin.address),
    };
    pause::pause(&**client, form.scope, &name, actor, reason).await?;
    Ok(Redirect::to("/").into_response())
}

/// `POST /pauses/resume`.
pub async fn resume(admin: Admin, CsrfForm(form): CsrfForm<ResumeForm>) -> Result<Response> {
    let name = target(form.scope, &form.name)?;
    let client = admin.state.pool.get().await?;
    let actor = Actor {
        name: &admin.user,
        address: Some(&admin.address),
    };
    pause::resume(&**client, form.scope, &name, actor).await?;
    Ok(Redirect::to("/").into_response())
}
