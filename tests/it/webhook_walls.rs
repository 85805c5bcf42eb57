//! Webhooks behind tenant walls and in the console: an endpoint gets only
//! its tenant's events, a tenant's role sees and manages only its own
//! endpoints and deliveries; the console lists them, replays a delivery,
//! and never shows a secret.

use crate::common::webhook::endpoint;
use crate::common::{self, TestDb};

/// The error text of `sql`, which must fail.
async fn refused(client: &tokio_postgres::Client, sql: &str) -> String {
    match client.batch_execute(sql).await {
        Ok(()) => panic!("{sql} was allowed"),
        Err(e) => e
            .as_db_error()
            .map_or_else(|| e.to_string(), |d| d.message().to_owned()),
    }
}

#[tokio::test]
async fn an_endpoint_gets_only_its_tenants_events_and_a_tenants_role_sees_and_manages_only_its_own()
{
    let db = TestDb::new().await;
    let admin = db.client().await;
    let suffix = format!("{:08x}", rand::random::<u32>());
    let roles = [format!("hook_a_{suffix}"), format!("hook_b_{suffix}")];
    for (role, tenant) in roles.iter().zip(["hospital-a", "hospital-b"]) {
        admin
            .batch_execute(&format!(
                "CREATE ROLE {role} LOGIN PASSWORD 'pw'; SELECT outpost.grant_tenant('{role}', '{tenant}');"
            ))
            .await
            .unwrap();
    }
    admin
        .batch_execute(
            "INSERT INTO outpost.recipients (user_id, email, tenant) VALUES
               ('a1', 'a1@a.example', 'hospital-a'), ('b1', 'b1@b.example', 'hospital-b');
             INSERT INTO outpost.messaging_configs (tenant) VALUES ('hospital-a'), ('hospital-b');",
        )
        .await
        .unwrap();
    let login = |role: String| {
        let url = db.url.clone();
        async move {
            let mut config: tokio_postgres::Config = url.parse().unwrap();
            config.user(&role).password("pw");
            let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(connection);
            client
        }
    };
    let (a, b) = (login(roles[0].clone()).await, login(roles[1].clone()).await);
    let events = ["message.sent", "chat.message"];
    let (hook_a, _) = endpoint(&a, "http://a.example/hooks", &events, None).await;
    let (hook_b, _) = endpoint(&b, "http://b.example/hooks", &events, None).await;
    let (hook_all, _) = endpoint(&admin, "http://ops.example/hooks", &events, None).await;
    let tenant_of = |id: i64| {
        let admin = &admin;
        async move {
            common::scalar::<Option<String>>(
                admin,
                "SELECT tenant FROM outpost.webhook_endpoints WHERE id = $1",
                &[&id],
            )
            .await
        }
    };
    assert_eq!(tenant_of(hook_a).await.as_deref(), Some("hospital-a"));
    assert_eq!(tenant_of(hook_all).await, None);
    let error = refused(&a, "SELECT outpost.webhook_endpoint_add('http://x.example', ARRAY['message.sent'], 'hospital-b')").await;
    assert!(
        error.contains("tenant hospital-b is not yours (hospital-a)"),
        "{error}"
    );

    // A's message and B's chat message: each tenant's endpoint gets its own
    // tenant's event only, the endpoint without a tenant gets both.
    let message: i64 = common::scalar(
        &a,
        "SELECT outpost.send_mail_template('welcome', to_user => 'a1')",
        &[],
    )
    .await;
    admin
        .execute(
            "UPDATE outpost.messages SET status = 'sent' WHERE id = $1",
            &[&message],
        )
        .await
        .unwrap();
    b.batch_execute("SELECT outpost.send_system_message('b1', 'hello')")
        .await
        .unwrap();
    let events_of = |id: i64| {
        let admin = &admin;
        async move {
            admin
                .query(
                    "SELECT subject, tenant FROM outpost.messages WHERE kind = 'webhook' AND to_address = $1 ORDER BY id",
                    &[&id.to_string()],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get::<_, String>(0), r.get::<_, Option<String>>(1)))
                .collect::<Vec<_>>()
        }
    };
    let a_tenant = Some("hospital-a".to_owned());
    let b_tenant = Some("hospital-b".to_owned());
    assert_eq!(
        events_of(hook_a).await,
        [("message.sent".to_owned(), a_tenant.clone())]
    );
    assert_eq!(
        events_of(hook_b).await,
        [("chat.message".to_owned(), b_tenant.clone())]
    );
    assert_eq!(
        events_of(hook_all).await,
        [
            ("message.sent".to_owned(), None),
            ("chat.message".to_owned(), None)
        ]
    );

    // A sees its endpoint and its delivery, never a secret; B's are not there for it.
    assert_eq!(
        common::count(&a, "SELECT count(*) FROM outpost.webhook_endpoints").await,
        1
    );
    assert_eq!(
        common::count(&a, "SELECT count(*) FROM outpost.webhook_deliveries").await,
        1
    );
    let delivery_a: i64 =
        common::scalar(&a, "SELECT id FROM outpost.webhook_deliveries", &[]).await;
    let error = refused(&a, "SELECT secret FROM outpost.webhook_endpoints").await;
    assert!(error.contains("permission denied"), "{error}");
    let delivery_b: i64 = common::scalar(
        &admin,
        "SELECT id FROM outpost.messages WHERE kind = 'webhook' AND to_address = $1",
        &[&hook_b.to_string()],
    )
    .await;
    for sql in [
        format!("SELECT outpost.webhook_endpoint_disable({hook_b})"),
        format!("SELECT outpost.webhook_endpoint_remove({hook_all})"),
        format!("SELECT outpost.webhook_replay({delivery_b})"),
    ] {
        let error = refused(&a, &sql).await;
        assert!(
            error.contains("is not in tenant hospital-a"),
            "{sql}: {error}"
        );
    }
    // Its own it manages: a replay is a new delivery, with the same webhook-id.
    let replay: i64 = common::scalar(&a, "SELECT outpost.webhook_replay($1)", &[&delivery_a]).await;
    let same: bool = common::scalar(
        &admin,
        "SELECT r.options ->> 'webhook_id' = o.options ->> 'webhook_id' AND r.body = o.body
         FROM outpost.messages r, outpost.messages o WHERE r.id = $1 AND o.id = $2",
        &[&replay, &delivery_a],
    )
    .await;
    assert!(same);
    let disabled: bool = common::scalar(
        &a,
        "SELECT outpost.webhook_endpoint_disable($1)",
        &[&hook_a],
    )
    .await;
    assert!(disabled);
    assert_eq!(
        common::count(
            &admin,
            "SELECT count(*) FROM outpost.webhook_endpoints WHERE enabled"
        )
        .await,
        2
    );
    drop((a, b));
    for role in &roles {
        let _ = admin
            .batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role}"))
            .await;
    }
}

#[tokio::test]
async fn the_console_lists_deliveries_replays_one_adds_and_disables_endpoints_and_never_shows_a_secret()
 {
    use crate::common::console::{ADMIN, Console, VIEWER};
    use reqwest::StatusCode;
    let db = TestDb::new().await;
    let client = db.client().await;
    let (id, secret) = endpoint(&client, "http://app.example/hooks", &["message.sent"], None).await;
    let email = db.email(&client, "ann@example.com").await.0;
    client
        .execute(
            "UPDATE outpost.messages SET status = 'sent' WHERE id = $1",
            &[&email],
        )
        .await
        .unwrap();
    let delivery: i64 = common::scalar(
        &client,
        "UPDATE outpost.messages SET status = 'failed', last_error = 'the receiver answered 500'
         WHERE kind = 'webhook' RETURNING id",
        &[],
    )
    .await;
    let console = Console::start(&db, &[]).await;
    let mut admin = console.signed_in(ADMIN).await;
    let (status, _, list) = admin.get("/webhooks").await;
    assert_eq!(status, StatusCode::OK);
    assert!(list.contains("app.example"), "{list}");
    assert!(
        list.contains(&format!("{}…", &secret[..8])),
        "the prefix is shown"
    );
    let (_, _, page) = admin.get(&format!("/webhooks/{id}")).await;
    assert!(page.contains(&format!("/messages/{delivery}")), "{page}");
    assert!(page.contains("the receiver answered 500"));
    // The delivery's own page: its timeline, its payload.
    let (status, _, message) = admin.get(&format!("/messages/{delivery}")).await;
    assert_eq!(status, StatusCode::OK, "{message}");
    assert!(message.contains("message.sent"), "{message}");
    let key = &secret[8..];
    for html in [&list, &page] {
        let escaped = key.replace('/', "&#x2f;");
        assert!(
            !html.contains(key) && !html.contains(&escaped),
            "a secret is in the console"
        );
    }

    // A viewer may not replay; an admin may, and it is audited.
    let mut viewer = console.signed_in(VIEWER).await;
    viewer.get(&format!("/webhooks/{id}")).await;
    let replay_path = format!("/webhooks/deliveries/{delivery}/replay");
    let (status, _, _) = viewer.post(&replay_path, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, headers, _) = admin.post(&replay_path, &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], format!("/webhooks/{id}").as_str());
    let row = client
        .query_one(
            "SELECT r.status, r.options ->> 'webhook_id' = o.options ->> 'webhook_id', r.body = o.body
             FROM outpost.messages r JOIN outpost.messages o ON o.id = (r.options ->> 'replay_of')::bigint
             WHERE r.kind = 'webhook' AND o.id = $1",
            &[&delivery],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            row.get::<_, String>(0),
            row.get::<_, bool>(1),
            row.get::<_, bool>(2)
        ),
        ("queued".to_owned(), true, true)
    );
    let audited: i64 = common::scalar(
        &client,
        "SELECT count(*) FROM outpost.console_audit
         WHERE action = 'webhook.replay' AND actor = $1 AND object = $2",
        &[&ADMIN.0, &format!("webhook delivery {delivery}")],
    )
    .await;
    assert_eq!(audited, 1);

    // Adding with a typed secret: kept write-only, never shown nor audited.
    let typed = "whsec_dGhpcyBpcyBhIHRlc3Qgc2VjcmV0IG9mIDMyIGJ5dGVzISE=";
    admin.get("/webhooks").await;
    let (status, headers, body) = admin
        .post(
            "/webhooks",
            &[
                ("url", "https://ops.example/in"),
                ("tenant", ""),
                ("description", "ops"),
                ("secret", typed),
                ("events", "message.failed"),
                ("events", "inbound.received"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let added: i64 = headers["location"].to_str().unwrap()[10..].parse().unwrap();
    let (events, stored): (Vec<String>, String) = {
        let r = client
            .query_one(
                "SELECT event_types, secret FROM outpost.webhook_endpoints WHERE id = $1",
                &[&added],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(
        events,
        ["inbound.received", "message.failed"].map(str::to_owned)
    );
    assert_eq!(stored, typed);
    let (_, _, list) = admin.get("/webhooks").await;
    let audit: String = common::scalar(
        &client,
        "SELECT string_agg(coalesce(after::text, ''), ' ') FROM outpost.console_audit",
        &[],
    )
    .await;
    for text in [&list, &audit] {
        assert!(
            !text.contains(&typed[8..]),
            "the typed secret is shown or audited"
        );
    }
    // An unknown event type is refused with the form echoed back.
    let (status, _, body) = admin
        .post(
            "/webhooks",
            &[
                ("url", "https://ops.example/in"),
                ("events", "message.opened"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("tick at least one event type"));

    // Disabling cancels the queued replay.
    admin.get("/webhooks").await;
    let (status, _, _) = admin.post(&format!("/webhooks/{id}/disable"), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let queued = common::count(
        &client,
        &format!("SELECT count(*) FROM outpost.messages WHERE kind = 'webhook' AND to_address = '{id}' AND status = 'queued'"),
    )
    .await;
    assert_eq!(queued, 0);
    let enabled: bool = common::scalar(
        &client,
        "SELECT enabled FROM outpost.webhook_endpoints WHERE id = $1",
        &[&id],
    )
    .await;
    assert!(!enabled);
}
