//! Operator controls: a kind, a provider or a tenant paused from the command
//! line holds its messages, queued, on every daemon until resumed; recorded
//! in the audit log and shown by `outpost status`.

use crate::common::{self, TestDb};

fn outpost(db: &TestDb, args: &[&str]) -> (String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_outpost"))
        .args(args)
        .env_remove("OUTPOST__DATABASE__URL")
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    (text(&out.stdout), text(&out.stderr))
}

async fn statuses(client: &tokio_postgres::Client) -> Vec<(String, String, String)> {
    client
        .query(
            "SELECT kind, coalesce(tenant, ''), status FROM outpost.messages ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

#[tokio::test]
async fn a_paused_kind_tenant_or_provider_waits_visibly_and_goes_on_resume() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let config = db.config(&[]);
    let (channels, _) = db.channels(&config);
    let dispatcher = db.dispatcher(&config, channels, "w1");
    outpost(&db, &["pause", "sms", "--reason", "Twilio invoice dispute"]);
    outpost(&db, &["pause", "--tenant", "hospital-b"]);
    outpost(&db, &["pause", "--provider", "sendgrid"]);
    client
        .batch_execute(
            "SELECT outpost.send_sms('a', to_address => '+353861000001');
             SELECT outpost.send_sms('b', to_address => '+353861000002');
             SELECT outpost.send_simple_mail('s', 'b', to_address => 'a@example.com');
             SELECT outpost.send_simple_mail('s', 'b', to_address => 'b@example.com', tenant => 'hospital-b');
             SELECT outpost.send_simple_mail('s', 'b', to_address => 'c@example.com', provider => 'sendgrid');",
        )
        .await
        .unwrap();
    dispatcher.drain().await.unwrap();
    let got = statuses(&client).await;
    let status = |i: usize| got[i].2.as_str();
    assert_eq!(
        [status(0), status(1), status(2), status(3), status(4)],
        ["queued", "queued", "sent", "queued", "queued"],
        "{got:?}"
    );
    let (summary, _) = outpost(&db, &["status"]);
    assert!(
        summary.contains("PAUSED kind sms by role ")
            && summary.contains("holding 2 queued: Twilio invoice dispute"),
        "{summary}"
    );
    assert!(summary.contains("PAUSED tenant hospital-b"), "{summary}");
    assert!(summary.contains("PAUSED provider sendgrid"), "{summary}");

    outpost(&db, &["resume", "sms"]);
    outpost(&db, &["resume", "--tenant", "hospital-b"]);
    dispatcher.drain().await.unwrap();
    let got = statuses(&client).await;
    assert_eq!(
        got.iter().map(|g| g.2.as_str()).collect::<Vec<_>>(),
        ["sent", "sent", "sent", "sent", "queued"],
        "the provider is still paused: {got:?}"
    );
    let (_, said) = outpost(&db, &["resume", "--provider", "sendgrid"]);
    assert!(said.contains("provider sendgrid resumed"), "{said}");
    let audit = common::count(
        &client,
        "SELECT count(*) FROM outpost.console_audit
         WHERE action IN ('pause', 'resume') AND actor = 'role ' || current_user",
    )
    .await;
    assert_eq!(audit, 6);
}

#[tokio::test]
async fn an_admin_pauses_and_resumes_from_the_overview_and_a_viewer_cannot() {
    use crate::common::console::{ADMIN, Console, VIEWER};
    let db = TestDb::new().await;
    let client = db.client().await;
    let console = Console::start(&db, &[]).await;
    let mut admin = console.signed_in(ADMIN).await;
    let (status, _, body) = admin.get("/").await;
    assert_eq!(status, reqwest::StatusCode::OK);
    assert!(body.contains("Nothing is paused."), "{body}");
    let (status, _, _) = admin
        .post(
            "/pauses",
            &[
                ("scope", "kind"),
                ("name", "voice"),
                ("reason", "fraud wave"),
            ],
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::SEE_OTHER);
    let (_, _, body) = admin.get("/").await;
    assert!(
        body.contains("kind voice") && body.contains("fraud wave") && body.contains("Resume"),
        "{body}"
    );
    // Not a kind: refused with the field named, nothing paused.
    let (status, _, body) = admin
        .post("/pauses", &[("scope", "kind"), ("name", "fax")])
        .await;
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{body}");
    let mut viewer = console.signed_in(VIEWER).await;
    let (_, _, body) = viewer.get("/").await;
    assert!(
        body.contains("kind voice") && !body.contains("Resume"),
        "{body}"
    );
    let (status, _, _) = viewer
        .post("/pauses/resume", &[("scope", "kind"), ("name", "voice")])
        .await;
    assert_eq!(status, reqwest::StatusCode::FORBIDDEN);
    let (status, _, _) = admin
        .post("/pauses/resume", &[("scope", "kind"), ("name", "voice")])
        .await;
    assert_eq!(status, reqwest::StatusCode::SEE_OTHER);
    let rows = client
        .query(
            "SELECT action, actor, address IS NOT NULL FROM outpost.console_audit \
             WHERE action IN ('pause', 'resume') ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    let got: Vec<(String, String, bool)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        got,
        [
            ("pause".to_owned(), "admin".to_owned(), true),
            ("resume".to_owned(), "admin".to_owned(), true)
        ]
    );
    assert_eq!(
        common::count(&client, "SELECT count(*) FROM outpost.pauses").await,
        0
    );
}
