//! What the console refuses in a form: the field and why, shown above the
//! form on a 400 page; and the two-way switches (enable / disable) its
//! routes take.

use std::borrow::Cow;
use std::fmt;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::{Deserialize, Serialize, Serializer};

/// A value the operator typed that the console will not take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct Refusal {
    /// The form field as the page labels it (`port`, `base URL`).
    pub field: &'static str,
    /// What is wrong with it, or what it takes.
    pub problem: Cow<'static, str>,
}

impl Refusal {
    pub fn new(field: &'static str, problem: impl Into<Cow<'static, str>>) -> Self {
        Self {
            field,
            problem: problem.into(),
        }
    }
}

/// Templates show a refusal as its sentence.
impl Serialize for Refusal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A rendered form page: 400 when it shows a refusal, 200 otherwise.
pub fn respond(page: Html<String>, refusal: Option<&Refusal>) -> Response {
    let status = if refusal.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    (status, page).into_response()
}

/// The last path segment of `…/{name}/enable` and `…/{name}/disable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Switch {
    Enable,
    Disable,
}

impl Switch {
    /// Whether the thing is enabled after the switch.
    pub fn on(self) -> bool {
        self == Switch::Enable
    }

    /// `enable` or `disable`, as the switch says (an audit action).
    pub fn pick<T>(self, enable: T, disable: T) -> T {
        match self {
            Switch::Enable => enable,
            Switch::Disable => disable,
        }
    }
}

impl fmt::Display for Switch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Switch::Enable => "enable",
            Switch::Disable => "disable",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_reads_as_field_and_problem() {
        let r = Refusal::new("port", "a number from 1 to 65535");
        assert_eq!(r.to_string(), "port: a number from 1 to 65535");
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::json!("port: a number from 1 to 65535")
        );
    }

    #[test]
    fn switches_read_from_the_path_and_pick_their_side() {
        let on: Switch = serde_json::from_str("\"enable\"").unwrap();
        let off: Switch = serde_json::from_str("\"disable\"").unwrap();
        assert!(on.on() && !off.on());
        assert_eq!(off.pick("enabled", "disabled"), "disabled");
        assert!(serde_json::from_str::<Switch>("\"toggle\"").is_err());
    }
}
