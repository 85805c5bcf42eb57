//! Tenants as walls, in PostgreSQL itself: two real login roles mapped to
//! two tenants, each seeing and acting on only its own rows; a role with no
//! tenant seeing everything, as before.

use crate::common::{self, TestDb};

const A: &str = "hospital-a";
const B: &str = "hospital-b";

/// A test database with two tenants' login roles and an unmapped
/// application session.
struct Tenants {
    db: TestDb,
    admin: tokio_postgres::Client,
    roles: [String; 2],
}

impl Tenants {
    async fn new() -> Self {
        let db = TestDb::new().await;
        let admin = db.client().await;
        let suffix = format!("{:08x}", rand::random::<u32>());
        let roles = [format!("app_a_{suffix}"), format!("app_b_{suffix}")];
        for (role, tenant) in roles.iter().zip([A, B]) {
            admin
                .batch_execute(&format!(
                    "CREATE ROLE {role} LOGIN PASSWORD 'pw';
                     SELECT outpost.grant_tenant('{role}', '{tenant}');"
                ))
                .await
                .unwrap();
        }
        admin
            .batch_execute(&format!(
                "INSERT INTO outpost.recipients (user_id, email, phone, tenant) VALUES
                   ('a1', 'a1@a.example', '+353861000001', '{A}'),
                   ('b1', 'b1@b.example', '+353861000002', '{B}');
                 INSERT INTO outpost.messaging_configs (tenant) VALUES ('{A}'), ('{B}');
                 INSERT INTO outpost.inbound_routes (pattern, tenant) VALUES ('b.example', '{B}');"
            ))
            .await
            .unwrap();
        Self { db, admin, roles }
    }

    /// A session logged in as tenant `i`'s own role (0: A, 1: B).
    async fn login(&self, i: usize) -> tokio_postgres::Client {
        let mut config: tokio_postgres::Config = self.db.url.parse().unwrap();
        config.user(&self.roles[i]).password("pw");
        let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        client
    }

    /// An application session whose role has no tenant.
    async fn unmapped(&self) -> tokio_postgres::Client {
        let client = self.db.client().await;
        client.batch_execute("SET ROLE outpost_app").await.unwrap();
        client
    }

    async fn drop_roles(self) {
        drop(self.admin);
        let admin = self.db.client().await;
        for role in &self.roles {
            let _ = admin
                .batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role}"))
                .await;
        }
    }
}

/// The error text of `sql`, which must fail.
async fn refused(client: &tokio_postgres::Client, sql: &str) -> String {
    match client.batch_execute(sql).await {
        Ok(()) => panic!("{sql} was allowed"),
        Err(e) => e
            .as_db_error()
            .map_or_else(|| e.to_string(), |d| d.message().to_owned()),
    }
}

/// Tenant B's rows in every table the application role may write or the
/// daemon writes for it.
async fn seed_tenant_b(t: &Tenants, b: &tokio_postgres::Client) -> (i64, i64) {
    let message: i64 = common::scalar(
        b,
        "SELECT outpost.send_mail_template('welcome', to_user => 'b1', idempotency_key => 'k1')",
        &[],
    )
    .await;
    b.batch_execute(
        "SELECT outpost.send_system_message('b1', 'hello');
         SELECT outpost.set_preference('b1', 'news', NULL, false);
         INSERT INTO outpost.consumer_cursors (consumer, stream) VALUES ('django', 'inbound');",
    )
    .await
    .unwrap();
    let channel: i64 = common::scalar(b, "SELECT max(id) FROM outpost.chat_channels", &[]).await;
    b.batch_execute(
        "SELECT outpost.webhook_endpoint_add('http://127.0.0.1:9/hook', ARRAY['message.failed'])",
    )
    .await
    .unwrap();
    t.admin
        .batch_execute(&format!(
            "INSERT INTO outpost.attempts (message_id, attempt, worker, started_at, finished_at, outcome)
               VALUES ({message}, 1, 'w', now(), now(), 'retry');
             INSERT INTO outpost.events (message_id, provider, event) VALUES ({message}, 'sendgrid', 'delivered');
             INSERT INTO outpost.inbound_emails (dedupe_key, mode, to_addresses, subject)
               VALUES ('d1', 'parsed', 'Reports <reports@B.example>', 'for b');
             INSERT INTO outpost.inbound_attachments (inbound_email_id, size, content)
               SELECT id, 1, 'x' FROM outpost.inbound_emails;
             INSERT INTO outpost.messages (kind, to_address, body, tenant)
               SELECT 'webhook', id::text, '{{}}', tenant FROM outpost.webhook_endpoints;"
        ))
        .await
        .unwrap();
    (message, channel)
}

#[tokio::test]
async fn every_relation_the_application_reads_shows_a_tenant_none_of_anothers_rows() {
    let t = Tenants::new().await;
    let (a, b) = (t.login(0).await, t.login(1).await);
    seed_tenant_b(&t, &b).await;
    // Every table and view the application role can read, from the catalog:
    // a new one without a policy fails here.
    let relations: Vec<(String, bool)> = t
        .admin
        .query(
            "SELECT c.relname::text,
                    EXISTS (SELECT 1 FROM pg_attribute x WHERE x.attrelid = c.oid
                            AND x.attname = 'tenant' AND NOT x.attisdropped)
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'outpost' AND c.relkind IN ('r', 'v', 'm', 'p')
               AND (has_table_privilege('outpost_app', c.oid, 'SELECT')
                    OR has_any_column_privilege('outpost_app', c.oid, 'SELECT'))
             ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(relations.len() >= 12, "{relations:?}");
    let unmapped = t.unmapped().await;
    for (relation, has_tenant) in &relations {
        let others = if *has_tenant {
            format!("SELECT count(*) FROM outpost.{relation} WHERE tenant IS DISTINCT FROM '{A}'")
        } else {
            format!("SELECT count(*) FROM outpost.{relation}")
        };
        let seeded = common::count(&t.admin, &others).await;
        assert!(
            seeded > 0,
            "outpost.{relation}: no row of another tenant is seeded; seed one in seed_tenant_b"
        );
        assert_eq!(
            common::count(&a, &others).await,
            0,
            "tenant A reads another tenant's rows in outpost.{relation}"
        );
        // A role sees only its own mapping; a consumer's cursor is its
        // tenant's own (two tenants may both name theirs "django").
        if !["tenant_roles", "consumer_cursors"].contains(&relation.as_str()) {
            assert_eq!(
                common::count(&unmapped, &others).await,
                seeded,
                "a role without a tenant reads every row of outpost.{relation}, as before"
            );
        }
    }
    // B sees its own.
    assert_eq!(
        common::count(&b, "SELECT count(*) FROM outpost.message_status").await,
        3,
        "its e-mail, the push of its chat message and the delivery to its webhook endpoint"
    );
    assert_eq!(
        common::count(&b, "SELECT count(*) FROM outpost.inbound_emails").await,
        1
    );
    t.drop_roles().await;
}

#[tokio::test]
async fn every_helper_refuses_another_tenants_ids_users_and_channels() {
    let t = Tenants::new().await;
    let (a, b) = (t.login(0).await, t.login(1).await);
    let (message, channel) = seed_tenant_b(&t, &b).await;
    let not_mine = format!("is not in tenant {A}");
    for sql in [
        format!("SELECT outpost.cancel({message})"),
        format!("SELECT outpost.retry({message})"),
        "SELECT outpost.set_preference('b1', 'news', NULL, true)".to_owned(),
        "SELECT * FROM outpost.preferences_for('b1')".to_owned(),
        format!("SELECT outpost.chat_mark_read({channel}, 'b1')"),
        "SELECT outpost.send_system_message('b1', 'hi')".to_owned(),
        "SELECT outpost.send_system_message_template('b1', 'welcome')".to_owned(),
    ] {
        let error = refused(&a, &sql).await;
        assert!(error.contains(&not_mine), "{sql}: {error}");
    }
    for (sql, expected) in [
        (
            "SELECT outpost.send_mail_template('welcome', to_user => 'b1')",
            format!("user b1 is not a recipient of tenant {A}"),
        ),
        (
            "SELECT outpost.send_sms('x', to_address => '+353861000009', tenant => 'hospital-b')",
            format!("tenant {B} is not yours ({A})"),
        ),
        (
            "INSERT INTO outpost.messages (kind, to_address, body, tenant) \
             VALUES ('sms', '+353861000009', 'x', 'hospital-b')",
            format!("tenant {B} is not yours ({A})"),
        ),
        (
            "INSERT INTO outpost.recipients (user_id, tenant) VALUES ('a9', 'hospital-b')",
            "row-level security".to_owned(),
        ),
        // Acting as another role is refused, whoever it is.
        (
            &format!("SELECT outpost.cancel({message}, caller => 'postgres')"),
            "may not act as role postgres".to_owned(),
        ),
    ]
    .iter()
    .map(|(s, e)| (s.to_string(), e.clone()))
    .collect::<Vec<_>>()
    {
        let error = refused(&a, &sql).await;
        assert!(error.contains(&expected), "{sql}: {error}");
    }
    // Nothing of B's changed.
    let status: String = common::scalar(
        &t.admin,
        "SELECT status FROM outpost.messages WHERE id = $1",
        &[&message],
    )
    .await;
    assert_eq!(status, "queued");
    // A's own work: its messages get its tenant whatever the caller passes
    // (nothing, or its own), to its own users and to addresses.
    for sql in [
        "SELECT outpost.send_mail_template('welcome', to_user => 'a1')",
        "SELECT outpost.send_sms('x', to_address => '+353861000009')",
        "SELECT outpost.send_sms('x', to_address => '+353861000009', tenant => 'hospital-a')",
    ] {
        let id: i64 = common::scalar(&a, sql, &[]).await;
        let tenant: Option<String> = common::scalar(
            &t.admin,
            "SELECT tenant FROM outpost.messages WHERE id = $1",
            &[&id],
        )
        .await;
        assert_eq!(tenant.as_deref(), Some(A), "{sql}");
        let cancelled: Option<i64> = common::scalar(&a, "SELECT outpost.cancel($1)", &[&id]).await;
        assert_eq!(cancelled, Some(id));
    }
    t.drop_roles().await;
}

#[tokio::test]
async fn a_message_to_a_user_carries_the_users_tenant_whoever_enqueues_it() {
    let t = Tenants::new().await;
    let unmapped = t.unmapped().await;
    for client in [&unmapped, &t.admin] {
        let id: i64 = common::scalar(
            client,
            "SELECT outpost.send_mail_template('welcome', to_user => 'b1')",
            &[],
        )
        .await;
        let tenant: Option<String> = common::scalar(
            &t.admin,
            "SELECT tenant FROM outpost.messages WHERE id = $1",
            &[&id],
        )
        .await;
        assert_eq!(tenant.as_deref(), Some(B));
    }
    let error = refused(
        &unmapped,
        "SELECT outpost.send_mail_template('welcome', to_user => 'b1', tenant => 'hospital-a')",
    )
    .await;
    assert!(error.contains("is not the tenant of user b1"), "{error}");
    t.drop_roles().await;
}

#[tokio::test]
async fn idempotency_keys_are_per_tenant_schedule_keys_the_daemons_and_the_audit_actor_the_role() {
    let t = Tenants::new().await;
    let (a, b) = (t.login(0).await, t.login(1).await);
    let send =
        "SELECT outpost.send_sms('x', to_address => '+353861000009', idempotency_key => 'same')";
    let first_a: i64 = common::scalar(&a, send, &[]).await;
    let first_b: i64 = common::scalar(&b, send, &[]).await;
    let again_a: i64 = common::scalar(&a, send, &[]).await;
    assert_ne!(first_a, first_b, "one key, accepted once for each tenant");
    assert_eq!(
        first_a, again_a,
        "a repeated key returns the tenant's first message"
    );
    // A direct INSERT finds the same index with ON CONFLICT DO NOTHING.
    let inserted = a
        .execute(
            "INSERT INTO outpost.messages (kind, to_address, body, idempotency_key) \
             VALUES ('sms', '+353861000009', 'x', 'same') ON CONFLICT DO NOTHING",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(inserted, 0);

    // The daemon's schedule keys cannot be claimed in advance.
    let error = refused(
        &a,
        "SELECT outpost.send_sms('x', to_address => '+353861000009', \
         idempotency_key => 'schedule:nightly:2026-12-08T00:00:00Z')",
    )
    .await;
    assert!(error.contains("are the daemon's own"), "{error}");
    let error = refused(
        &a,
        "SELECT outpost.send_system_message_template('a1', 'welcome', \
         idempotency_key => 'schedule:nightly:2026-12-08T00:00:00Z')",
    )
    .await;
    assert!(error.contains("are the daemon's own"), "{error}");
    let daemon: i64 = common::scalar(
        &t.admin,
        "SELECT outpost.send_sms('x', to_address => '+353861000009', \
         idempotency_key => 'schedule:nightly:2026-12-08T00:00:00Z')",
        &[],
    )
    .await;
    assert!(daemon > 0);

    // The audit actor is the calling role, whatever `source` says.
    a.batch_execute("SELECT outpost.set_preference('a1', 'news', NULL, false, 'console:alice')")
        .await
        .unwrap();
    let (actor, source): (String, String) = {
        let row = t
            .admin
            .query_one(
                "SELECT actor, after->>'source' FROM outpost.console_audit \
                 WHERE action = 'preference.set'",
                &[],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(actor, format!("role {}", t.roles[0]));
    assert_eq!(source, "console:alice");
    t.drop_roles().await;
}

#[tokio::test]
async fn inbound_mail_is_routed_by_address_or_domain_and_unrouted_mail_stays_unmapped() {
    let t = Tenants::new().await;
    let (a, b) = (t.login(0).await, t.login(1).await);
    t.admin
        .batch_execute(&format!(
            "INSERT INTO outpost.inbound_routes (pattern, tenant) VALUES ('reports@b.example', '{A}');
             INSERT INTO outpost.inbound_emails (dedupe_key, mode, to_addresses, subject) VALUES
               ('1', 'parsed', 'reports@b.example', 'address wins over domain'),
               ('2', 'parsed', 'x@nowhere.example, Ops <OPS@b.example>', 'domain'),
               ('3', 'parsed', 'x@nowhere.example', 'unrouted');"
        ))
        .await
        .unwrap();
    let subjects =
        |rows: Vec<tokio_postgres::Row>| -> Vec<String> { rows.iter().map(|r| r.get(0)).collect() };
    let sql = "SELECT subject FROM outpost.inbound_emails ORDER BY dedupe_key";
    assert_eq!(
        subjects(a.query(sql, &[]).await.unwrap()),
        ["address wins over domain"]
    );
    assert_eq!(subjects(b.query(sql, &[]).await.unwrap()), ["domain"]);
    assert_eq!(
        subjects(t.unmapped().await.query(sql, &[]).await.unwrap()).len(),
        3
    );
    t.drop_roles().await;
}

#[tokio::test]
async fn the_operator_maps_and_unmaps_roles_from_the_command_line() {
    let db = TestDb::new().await;
    let admin = db.client().await;
    let role = format!("app_cli_{:08x}", rand::random::<u32>());
    admin
        .batch_execute(&format!("CREATE ROLE {role} LOGIN"))
        .await
        .unwrap();
    let outpost = |args: &[&str]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_outpost"));
        command
            .args(args)
            .env_remove("OUTPOST__DATABASE__URL")
            .env("DATABASE_URL", &db.url);
        let out = command.output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    outpost(&["tenant", "grant", &role, "hospital-c"]);
    assert_eq!(
        outpost(&["tenant", "list"]),
        format!("hospital-c\t{role}\n")
    );
    let member: bool = common::scalar(
        &admin,
        "SELECT pg_has_role($1::text::name, 'outpost_app', 'MEMBER')",
        &[&role],
    )
    .await;
    assert!(member, "a mapped role is an application role");
    outpost(&["tenant", "revoke", &role]);
    assert_eq!(outpost(&["tenant", "list"]), "");
    let _ = admin
        .batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role}"))
        .await;
}

#[tokio::test]
async fn one_tenants_backlog_does_not_hold_back_anothers_messages() {
    let db = TestDb::new().await;
    let client = db.client().await;
    // Tenant A's report run of 20,000, then tenant B's 10 password resets.
    client
        .batch_execute(&format!(
            "INSERT INTO outpost.messages (kind, to_address, subject, body, tenant)
             SELECT 'email', 'a' || g || '@a.example', 'report', 'b', '{A}'
             FROM generate_series(1, 20000) g;
             INSERT INTO outpost.messages (kind, to_address, subject, body, tenant)
             SELECT 'email', 'b' || g || '@b.example', 'reset', 'b', '{B}'
             FROM generate_series(1, 10) g;"
        ))
        .await
        .unwrap();
    let config = db.config(&[]);
    let (channels, _) = db.channels(&config);
    let dispatcher = db.dispatcher(&config, channels, "w1");
    let claimed = dispatcher.run_once().await.unwrap();
    assert!(claimed > 10, "{claimed}");
    let (b_sent, a_queued): (i64, i64) = {
        let row = client
            .query_one(
                &format!(
                    "SELECT count(*) FILTER (WHERE tenant = '{B}' AND status = 'sent'),
                            count(*) FILTER (WHERE tenant = '{A}' AND status = 'queued')
                     FROM outpost.messages"
                ),
                &[],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(b_sent, 10, "all of B's in the first claim");
    assert!(
        a_queued >= 19_000,
        "A still has most of its backlog: {a_queued}"
    );
}

#[tokio::test]
async fn the_overview_shows_each_tenants_queue() {
    use crate::common::console::{ADMIN, Console};
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(&format!(
            "INSERT INTO outpost.messages (kind, to_address, subject, body, tenant)
             SELECT 'email', 'a' || g || '@a.example', 's', 'b', '{A}' FROM generate_series(1, 7) g;
             INSERT INTO outpost.messages (kind, to_address, body, tenant, run_at)
             VALUES ('sms', '+353861000001', 'b', '{B}', now() + interval '1 hour');"
        ))
        .await
        .unwrap();
    let console = Console::start(&db, &[]).await;
    let mut admin = console.signed_in(ADMIN).await;
    let (_, _, body) = admin.get("/").await;
    assert!(body.contains("Queued by tenant"), "{body}");
    let rows: Vec<&str> = body
        .split("<tr>")
        .filter(|r| r.contains("<th scope=\"row\">hospital-"))
        .collect();
    assert_eq!(rows.len(), 2, "{body}");
    assert!(rows[0].contains(A) && rows[0].contains(">7</a>") && rows[0].contains("<td>7</td>"));
    assert!(rows[1].contains(B) && rows[1].contains(">1</a>") && rows[1].contains("<td>0</td>"));
}

#[tokio::test]
async fn a_console_user_scoped_to_a_tenant_sees_and_acts_on_only_its_messages() {
    use crate::common::console::{ADMIN, Console};
    use reqwest::StatusCode;
    let db = TestDb::new().await;
    let client = db.client().await;
    let queued = |tenant: &'static str, address: &'static str| {
        let client = &client;
        async move {
            common::scalar::<i64>(
                client,
                "SELECT outpost.send_sms('x', to_address => $1, tenant => $2, \
                 run_at => now() + interval '1 hour')",
                &[&address, &tenant],
            )
            .await
        }
    };
    let (a1, a2) = (
        queued(A, "+353861000001").await,
        queued(A, "+353861000002").await,
    );
    let b1 = queued(B, "+353861000003").await;
    let console = Console::start(&db, &[]).await;
    // Added from the command line, as an operator would.
    let mut add = std::process::Command::new(env!("CARGO_BIN_EXE_outpost"))
        .args([
            "console", "user", "add", "ward", "--role", "admin", "--tenant", A,
        ])
        .env_remove("OUTPOST__DATABASE__URL")
        .env("DATABASE_URL", &db.url)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = add.stdin.take().unwrap();
        stdin.write_all(b"ward-password-1\n").unwrap();
    }
    assert!(add.wait().unwrap().success());

    let mut ward = console.agent();
    let (status, _, _) = ward.login("ward", "ward-password-1").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    // Their overview: their tenant's queue and counts, not another's, nor
    // the daemons, nor the controls that act on every tenant.
    client
        .batch_execute(&format!(
            "SELECT outpost.pause('tenant', '{B}', 'ops', 'b only');
             SELECT outpost.pause('kind', 'voice', 'ops', 'everyone')"
        ))
        .await
        .unwrap();
    let (status, _, body) = ward.get("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Overview of hospital-a"), "{body}");
    assert!(
        body.contains("<th scope=\"row\">hospital-a</th><td>sms</td>")
            && !body.contains("hospital-b")
            && !body.contains("Daemons")
            && !body.contains("action=\"/pauses")
            && body.contains("kind voice"),
        "{body}"
    );
    client
        .batch_execute(&format!(
            "SELECT outpost.resume('tenant', '{B}', 'ops'); SELECT outpost.resume('kind', 'voice', 'ops')"
        ))
        .await
        .unwrap();
    // The search is theirs, whatever the filter asks.
    let (_, _, body) = ward.get("/messages?tenant=hospital-b").await;
    assert!(
        body.contains(&format!("/messages/{a1}")) && !body.contains(&format!("/messages/{b1}")),
        "{body}"
    );
    for path in [format!("/messages/{b1}"), format!("/messages/{b1}/preview")] {
        assert_eq!(ward.get(&path).await.0, StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(ward.get(&format!("/messages/{a1}")).await.0, StatusCode::OK);
    for path in [
        "/smtp-servers",
        "/push-apps",
        "/messaging",
        "/suppressions",
        "/schedules",
        "/audit-log",
    ] {
        assert_eq!(ward.get(path).await.0, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(
        ward.post(&format!("/messages/{b1}/cancel"), &[]).await.0,
        StatusCode::NOT_FOUND
    );
    // Inbound mail: only what is routed to their tenant.
    let mail: Vec<i64> = client
        .query(
            &format!(
                "INSERT INTO outpost.inbound_emails (dedupe_key, mode, to_addresses, subject, tenant)
                 VALUES ('ia', 'parsed', 'x@a.example', 'mail for a', '{A}'),
                        ('ib', 'parsed', 'x@b.example', 'mail for b', '{B}') RETURNING id"
            ),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let attachment: i64 = common::scalar(
        &client,
        "INSERT INTO outpost.inbound_attachments (inbound_email_id, size, content)          VALUES ($1, 1, 'x') RETURNING id",
        &[&mail[1]],
    )
    .await;
    let (status, _, body) = ward.get("/inbound").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("mail for a") && !body.contains("mail for b"),
        "{body}"
    );
    assert_eq!(
        ward.get(&format!("/inbound/{}", mail[0])).await.0,
        StatusCode::OK
    );
    for path in [
        format!("/inbound/{}", mail[1]),
        format!("/inbound/{}/attachments/{attachment}", mail[1]),
    ] {
        assert_eq!(ward.get(&path).await.0, StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(
        ward.post("/pauses", &[("scope", "kind"), ("name", "sms")])
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (status, _, body) = ward
        .post(
            "/messages/bulk/confirm",
            &[("tenant", B), ("status", "queued"), ("action", "cancel")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let statuses: Vec<String> = client
        .query(
            "SELECT status FROM outpost.messages WHERE id = ANY($1) ORDER BY id",
            &[&vec![a1, a2, b1]],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(statuses, ["cancelled", "cancelled", "queued"]);
    // An admin of every tenant still sees B's.
    let mut admin = console.signed_in(ADMIN).await;
    assert_eq!(
        admin.get(&format!("/messages/{b1}")).await.0,
        StatusCode::OK
    );
}
