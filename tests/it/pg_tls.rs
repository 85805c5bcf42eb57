//! PostgreSQL over TLS (rustls): `sslmode` in DATABASE_URL is honoured
//! against a throwaway cluster that serves TLS.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use outpost::cluster::{Cluster, Options};

async fn uses_tls(url: &str) -> Result<bool, String> {
    let client = outpost::db::connect(url)
        .await
        .map_err(|e| format!("{e}: {e:?}"))?;
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(row.get(0))
}

#[tokio::test]
async fn sslmode_is_honoured() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("pg-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
    common::self_signed(&cert, &key);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(&cert, std::fs::Permissions::from_mode(0o644)).unwrap();
    let options = Options {
        fast_unsafe: true,
        tls: Some((cert.clone(), key.clone())),
    };
    let cluster = {
        let dir = dir.clone();
        Stop(
            tokio::task::spawn_blocking(move || Cluster::start(&dir, options))
                .await
                .unwrap()
                .unwrap(),
        )
    };
    let cluster = &cluster.0;
    let port = cluster.port();
    let base = cluster.url("postgres");
    {
        assert_eq!(uses_tls(&format!("{base}?sslmode=require")).await, Ok(true));
        assert_eq!(
            uses_tls(&format!("{base}?sslmode=disable")).await,
            Ok(false)
        );
        // prefer is the default: encrypted when the server offers TLS.
        assert_eq!(uses_tls(&base).await, Ok(true));
        // verify-full checks the certificate and the host name.
        let verified = format!(
            "postgres://postgres@localhost:{port}/postgres?hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={}",
            cert.display()
        );
        assert_eq!(uses_tls(&verified).await, Ok(true));
        let untrusted = format!(
            "postgres://postgres@localhost:{port}/postgres?hostaddr=127.0.0.1&sslmode=verify-full"
        );
        let err = uses_tls(&untrusted).await.unwrap_err();
        assert!(err.to_lowercase().contains("certificate"), "{err}");

        // The daemon's own path works over TLS: migrate and deliver.
        let admin = outpost::db::connect(&format!("{base}?sslmode=require"))
            .await
            .unwrap();
        admin
            .batch_execute("CREATE DATABASE tls_app")
            .await
            .unwrap();
        let app = format!(
            "postgres://postgres@localhost:{port}/tls_app?hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={}",
            cert.display()
        );
        let mut client = outpost::db::connect(&app).await.unwrap();
        outpost::db::migrate::migrate(&mut client).await.unwrap();
        client
            .execute(
                "SELECT outpost.send_sms('hi', to_address => '+353861234567')",
                &[],
            )
            .await
            .unwrap();
        let config = outpost::config::Config::load(&outpost::config::Sources {
            file: None,
            env: vec![("DATABASE_URL".into(), app.clone())],
        })
        .unwrap();
        let recorder = common::recorder::Recorder::accepting("rec");
        let d = outpost::dispatch::Dispatcher::new(
            outpost::db::pool(&app, 2).unwrap(),
            &config,
            outpost::channel::Channels::with_default_for_all(
                recorder.clone() as std::sync::Arc<dyn outpost::channel::Channel>
            ),
            "tls",
        );
        assert_eq!(d.drain().await.unwrap(), 1);
        assert_eq!(recorder.count(), 1);
    }
}

/// Stops the cluster however the test ends.
struct Stop(Cluster);

impl Drop for Stop {
    fn drop(&mut self) {
        let _ = self.0.stop();
    }
}
