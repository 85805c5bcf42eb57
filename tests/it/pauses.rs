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
