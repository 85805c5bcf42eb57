//! Webhook verifiers: keys, signatures, timestamps, URLs and parameters of any
//! shape are refused cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use outpost::signature::{SendGridKey, verify_twilio};

const KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = SendGridKey::parse(&text);
    let key = SendGridKey::parse(KEY).expect("vendor key");
    let mut parts = text.splitn(3, '\n');
    let (ts, sig, body) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    assert!(!key.verify(ts, body.as_bytes(), sig) || sig.len() > 60);
    let params: Vec<(String, String)> = body
        .split('&')
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect();
    let _ = verify_twilio(ts, sig, &params, body);
});
