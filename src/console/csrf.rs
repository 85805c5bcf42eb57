//! Forms that change something: [`Csrf`] (a POST with no fields of its own)
//! and [`CsrfForm`] (one with fields) accept a request only from a page of
//! this console (same origin) carrying the session's form token, with a body
//! of at most [`FORM_LIMIT`].

use axum::Form;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::ConsoleError;
use super::guard::same_origin;
use super::session::Session;

/// Largest form body the console reads.
pub const FORM_LIMIT: usize = 256 * 1024;

/// A state-changing request with a valid form token and nothing else to read.
#[derive(Debug, Clone, Copy)]
pub struct Csrf;

/// A state-changing request with a valid form token, its form read as `T`
/// (415 without a form content type, 422 when the fields do not fit, as
/// axum's [`Form`]).
#[derive(Debug, Clone)]
pub struct CsrfForm<T>(pub T);

fn refuse(reason: &'static str) -> Response {
    ConsoleError::Forbidden(reason).into_response()
}

/// The request's parts and body once it has passed the checks.
async fn checked(request: Request) -> Result<(Parts, Bytes), Response> {
    let path = request.uri().path().to_owned();
    if !same_origin(request.headers()) {
        tracing::warn!(
            path,
            "console: state-changing request from another origin refused"
        );
        return Err(refuse(
            "This request did not come from a console page (origin check failed).",
        ));
    }
    let Some(session) = request.extensions().get::<Session>().cloned() else {
        return Err(refuse("Sign in first."));
    };
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, FORM_LIMIT).await else {
        return Err((StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response());
    };
    let token = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
        .ok()
        .and_then(|fields| {
            fields
                .into_iter()
                .find(|(k, _)| k == "csrf")
                .map(|(_, v)| v)
        });
    // Compared as SHA-256 digests: equal-length inputs, no early exit on the secret.
    let valid = token
        .is_some_and(|t| Sha256::digest(t.as_bytes()) == Sha256::digest(session.csrf.as_bytes()));
    if !valid {
        tracing::warn!(path, user = %session.user, "console: POST without a valid form token refused");
        return Err(refuse(
            "The form token is missing or stale: reload the page and try again.",
        ));
    }
    Ok((parts, bytes))
}

impl<S: Send + Sync> FromRequest<S> for Csrf {
    type Rejection = Response;

    async fn from_request(request: Request, _: &S) -> Result<Self, Response> {
        checked(request).await.map(|_| Csrf)
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for CsrfForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        let (parts, bytes) = checked(request).await?;
        let Form(form) =
            Form::<T>::from_request(Request::from_parts(parts, Body::from(bytes)), state)
                .await
                .map_err(IntoResponse::into_response)?;
        Ok(CsrfForm(form))
    }
}
