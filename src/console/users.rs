//! Console users: argon2id password hashes in `outpost.console_users`,
//! managed with `outpost console user add|remove`.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use tokio_postgres::Client;

use super::queries;
use crate::db::DbError;
use crate::db::Pg;

/// What a console user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// May change things (retry, cancel, servers, apps, suppressions…).
    Admin,
    /// May only look.
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = UserError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Role::Admin),
            "viewer" => Ok(Role::Viewer),
            other => Err(UserError::Role(other.to_owned())),
        }
    }
}

/// Why a user could not be added or removed.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("invalid user name {0:?}: use 1 to 64 letters, digits, '.', '_', '@' or '-'")]
    Name(String),
    #[error("invalid role {0:?}: admin or viewer")]
    Role(String),
    #[error("the password must be at least 8 characters")]
    ShortPassword,
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error("no console user named {0:?}")]
    Unknown(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<tokio_postgres::Error> for UserError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Db(DbError::Query(e))
    }
}

pub(crate) fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'))
}

/// An argon2id PHC string for `password`, with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, UserError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| UserError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| UserError::Hash(e.to_string()))
}

/// Whether `password` matches the PHC string `hash`.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Adds `name` with `role`, or replaces its role and password (ending its sessions).
/// Returns true when the user is new.
pub async fn add(
    client: &Client,
    name: &str,
    role: Role,
    password: &str,
    tenant: Option<&str>,
) -> Result<bool, UserError> {
    if !valid_name(name) {
        return Err(UserError::Name(name.to_owned()));
    }
    if password.chars().count() < 8 {
        return Err(UserError::ShortPassword);
    }
    let hash = hash_password(password)?;
    let row = client
        .pg_query_one(
            queries::USER_UPSERT,
            &[&name, &role.as_str(), &hash, &tenant],
        )
        .await?;
    let created: bool = row.try_get("created")?;
    if !created {
        client
            .pg_execute(queries::SESSIONS_DELETE_USER, &[&name])
            .await?;
    }
    Ok(created)
}

/// Removes `name`; its sessions end with it.
pub async fn remove(client: &Client, name: &str) -> Result<(), UserError> {
    let removed = client.pg_execute(queries::USER_DELETE, &[&name]).await?;
    if removed == 0 {
        return Err(UserError::Unknown(name.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn names_are_checked() {
        assert!(valid_name("ann.byrne@example"));
        assert!(!valid_name(""));
        assert!(!valid_name("a b"));
        assert!(!valid_name(&"x".repeat(65)));
    }
}

#[cfg(test)]
mod role_tests {
    use super::Role;

    #[test]
    fn roles_are_named_as_stored() {
        for role in [Role::Admin, Role::Viewer] {
            assert_eq!(role.to_string().parse::<Role>().unwrap(), role);
        }
        let err = "Admin".parse::<Role>().unwrap_err().to_string();
        assert!(
            err.contains("\"Admin\"") && err.contains("admin or viewer"),
            "{err}"
        );
    }
}
