//! Limits on what a message may cost: the country prefixes SMS and voice may
//! go to, the cap per number, and each tenant's daily cap and rate.

use crate::common::{self, TestDb};

#[tokio::test]
async fn sms_and_voice_to_a_country_off_the_allow_list_fail_unsent_without_the_number() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let mut config = db.config(&[]);
    config.limits.phone_prefixes = vec!["+353".into(), "+1".into()];
    let (channels, printed) = db.channels(&config);
    let dispatcher = db.dispatcher(&config, channels, "w1");
    let mut ids = Vec::new();
    for (sql, number) in [
        (
            "SELECT outpost.send_sms('hi', to_address => $1)",
            "+447700900123",
        ),
        (
            "SELECT outpost.make_call('hi', to_address => $1)",
            "+447700900124",
        ),
        (
            "SELECT outpost.send_sms('hi', to_address => $1)",
            "+353861234567",
        ),
        (
            "SELECT outpost.send_sms('hi', to_address => $1)",
            "+15005550006",
        ),
    ] {
        let id: i64 = common::scalar(&client, sql, &[&number]).await;
        ids.push(id);
    }
    dispatcher.drain().await.unwrap();
    let rows = client
        .query(
            "SELECT status, coalesce(last_error, '') FROM outpost.messages WHERE id = ANY($1) ORDER BY id",
            &[&ids],
        )
        .await
        .unwrap();
    let got: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    for (status, error) in &got[..2] {
        assert_eq!(status, "failed");
        assert_eq!(
            error,
            "not sent: the number's country prefix is not one of limits.phone_prefixes (+353, +1)"
        );
    }
    for (status, _) in &got[2..] {
        assert_eq!(status, "sent");
    }
    let printed = String::from_utf8(printed.lock().unwrap().clone()).unwrap();
    assert!(!printed.contains("+4477009001"), "{printed}");
    assert!(printed.contains("+353861234567"), "{printed}");
}

#[tokio::test]
async fn one_number_gets_at_most_its_hourly_cap_across_daemons_and_the_rest_wait_recorded() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let mut config = db.config(&[]);
    config.limits.phone_per_hour = 3;
    client
        .batch_execute(
            "SELECT outpost.send_sms('code ' || g, to_address => '+353861111111')
             FROM generate_series(1, 10) g;
             SELECT outpost.make_call('hi', to_address => '+353861111111');
             SELECT outpost.send_sms('other', to_address => '+353862222222');",
        )
        .await
        .unwrap();
    // Two daemons at once: the cap holds across them.
    let mut handles = Vec::new();
    for worker in ["w1", "w2"] {
        let (channels, _) = db.channels(&config);
        let dispatcher = db.dispatcher(&config, channels, worker);
        handles.push(tokio::spawn(
            async move { dispatcher.drain().await.unwrap() },
        ));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    let count = |sql: &'static str| {
        let client = &client;
        async move { common::count(client, sql).await }
    };
    assert_eq!(
        count("SELECT count(*) FROM outpost.messages WHERE to_address = '+353861111111' AND status = 'sent'").await,
        3
    );
    assert_eq!(
        count("SELECT count(*) FROM outpost.messages WHERE to_address = '+353862222222' AND status = 'sent'").await,
        1
    );
    // The other eight wait, unsent and not failed, about an hour; as a
    // breaker deferral is, each hold is counted (deferrals) and said
    // (last_error, and message_status) without spending an attempt.
    assert_eq!(
        count(
            "SELECT count(*) FROM outpost.messages WHERE to_address = '+353861111111'
               AND status = 'queued' AND deferrals >= 1
               AND run_at > now() + interval '50 minutes'
               AND last_error LIKE 'held: the number has been sent 3 SMS and voice messages%'"
        )
        .await,
        8
    );
}

#[tokio::test]
async fn a_tenants_daily_cap_holds_the_rest_until_tomorrow_and_status_says_so() {
    use outpost::message::Kind;
    let db = TestDb::new().await;
    let client = db.client().await;
    let mut config = db.config(&[]);
    config
        .limits
        .daily
        .insert(("hospital-a".to_owned(), Kind::Sms), 2);
    client
        .batch_execute(
            "SELECT outpost.send_sms('a' || g, to_address => '+35386100000' || g, tenant => 'hospital-a')
             FROM generate_series(1, 4) g;
             SELECT outpost.send_sms('b', to_address => '+353862000000', tenant => 'hospital-b');
             SELECT outpost.send_simple_mail('s', 'b', to_address => 'a@a.example', tenant => 'hospital-a');",
        )
        .await
        .unwrap();
    let (channels, _) = db.channels(&config);
    db.dispatcher(&config, channels, "w1")
        .drain()
        .await
        .unwrap();
    let count = |sql: String| {
        let client = &client;
        async move { common::count(client, &sql).await }
    };
    assert_eq!(
        count("SELECT count(*) FROM outpost.messages WHERE tenant = 'hospital-a' AND kind = 'sms' AND status = 'sent'".into()).await,
        2
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM outpost.messages WHERE tenant = 'hospital-a' AND kind = 'sms'
               AND status = 'queued' AND deferrals = 1
               AND run_at = ((now() AT TIME ZONE 'UTC')::date + 1)::timestamp AT TIME ZONE 'UTC'
               AND last_error = 'held: tenant hospital-a has been sent its 2 sms messages for today \
                                 (limits.daily.hospital-a.sms); waiting for tomorrow (UTC)'"
                .into()
        )
        .await,
        2
    );
    // Another tenant, and another kind of the same tenant, are not capped.
    assert_eq!(
        count("SELECT count(*) FROM outpost.messages WHERE status = 'sent' AND (tenant = 'hospital-b' OR kind = 'email')".into()).await,
        2
    );
    let summary = outpost::status::summary(&client, &config.limits)
        .await
        .unwrap();
    assert!(
        summary.contains(
            "CAPPED tenant hospital-a sms: 2 of 2 sent today (UTC); the rest wait until tomorrow"
        ),
        "{summary}"
    );
}

#[tokio::test]
async fn a_tenants_rate_paces_its_messages_across_daemons_and_another_tenant_goes_at_once() {
    use outpost::message::Kind;
    let db = TestDb::new().await;
    let client = db.client().await;
    let mut config = db.config(&[]);
    config
        .limits
        .rate
        .insert(("hospital-a".to_owned(), Kind::Email), 10.0);
    client
        .batch_execute(
            "SELECT outpost.send_simple_mail('s', 'b', to_address => 'a' || g || '@a.example', tenant => 'hospital-a')
             FROM generate_series(1, 40) g;
             SELECT outpost.send_simple_mail('s', 'b', to_address => 'b' || g || '@b.example', tenant => 'hospital-b')
             FROM generate_series(1, 5) g;",
        )
        .await
        .unwrap();
    // Before anything is sent, status says why most will wait.
    let summary = outpost::status::summary(&client, &config.limits)
        .await
        .unwrap();
    assert!(
        summary.contains(
            "RATE-LIMITED tenant hospital-a email: 10 a second (limits.rate.hospital-a.email); \
             40 due wait their turn"
        ),
        "{summary}"
    );
    // Two daemons, each claiming as fast as it can.
    let started = std::time::Instant::now();
    let mut workers = Vec::new();
    for name in ["w1", "w2"] {
        let (channels, _) = db.channels(&config);
        let dispatcher = db.dispatcher(&config, channels, name);
        workers.push(tokio::spawn(async move {
            while started.elapsed() < std::time::Duration::from_secs(20) {
                if dispatcher.run_once().await.unwrap() == 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            }
        }));
    }
    // Hospital B's five go at once, while most of A's still wait their turn.
    common::wait_until(
        &client,
        "SELECT count(*) FROM outpost.messages WHERE tenant = 'hospital-b' AND status = 'sent'",
        std::time::Duration::from_secs(5),
        |n| n == 5,
    )
    .await;
    let a_sent = common::count(
        &client,
        "SELECT count(*) FROM outpost.messages WHERE tenant = 'hospital-a' AND status = 'sent'",
    )
    .await;
    assert!(a_sent <= 20, "{a_sent} of A's sent with B's");
    let summary = outpost::status::summary(&client, &config.limits)
        .await
        .unwrap();
    assert!(
        summary.contains(
            "RATE-LIMITED tenant hospital-a email: 10 a second (limits.rate.hospital-a.email);"
        ),
        "{summary}"
    );
    common::wait_until(
        &client,
        "SELECT count(*) FROM outpost.messages WHERE tenant = 'hospital-a' AND status = 'sent'",
        std::time::Duration::from_secs(15),
        |n| n == 40,
    )
    .await;
    let took = started.elapsed();
    for w in workers {
        w.abort();
    }
    // Ten at once (a second's worth), then ten a second: 3 s for the other
    // 30 whatever two daemons do; released on time, not much later.
    assert!(took >= std::time::Duration::from_millis(2700), "{took:?}");
    assert!(took < std::time::Duration::from_secs(6), "{took:?}");
    // Never more than a second's burst plus a second's rate in any second.
    let busiest: i64 = common::scalar(
        &client,
        "SELECT max((SELECT count(*) FROM outpost.messages o WHERE o.tenant = 'hospital-a'
                      AND o.sent_at >= m.sent_at AND o.sent_at < m.sent_at + interval '1 second'))
         FROM outpost.messages m WHERE m.tenant = 'hospital-a'",
        &[],
    )
    .await;
    assert!(busiest <= 20, "{busiest} sent in one second");
    let summary = outpost::status::summary(&client, &config.limits)
        .await
        .unwrap();
    assert!(
        summary.contains("rate tenant hospital-a email: 10 a second; 0 due"),
        "{summary}"
    );
    // Nothing of it held by a deferral: a rate paces, it does not defer.
    assert_eq!(
        common::count(
            &client,
            "SELECT count(*) FROM outpost.messages WHERE deferrals > 0"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn the_overview_shows_a_tenant_waiting_its_turn_under_its_rate() {
    use crate::common::console::{ADMIN, Console};
    use outpost::message::Kind;
    let db = TestDb::new().await;
    let client = db.client().await;
    let mut config = db.config(&[]);
    config
        .limits
        .rate
        .insert(("hospital-a".to_owned(), Kind::Sms), 0.5);
    client
        .batch_execute(
            "SELECT outpost.send_sms('a', to_address => '+35386100000' || g, tenant => 'hospital-a')
             FROM generate_series(1, 3) g",
        )
        .await
        .unwrap();
    let console = Console::start_config(&db, config).await;
    let mut admin = console.signed_in(ADMIN).await;
    let (_, _, body) = admin.get("/").await;
    assert!(
        body.contains("<th scope=\"row\">hospital-a</th><td>sms</td><td>0.5</td><td>3</td>")
            && body.contains("waiting their turn (limits.rate.hospital-a.sms)"),
        "{body}"
    );
}
