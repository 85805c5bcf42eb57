//! Inbound Parse payloads: any body, as a multipart form (LF rewriting) and as
//! a raw MIME message, must parse or be refused, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use outpost::inbound_mail::{Form, parse};

fuzz_target!(|data: &[u8]| {
    let _ = outpost::http::inbound::crlf_delimiters(data.to_vec().into(), "xYzZY");
    let raw = Form {
        fields: vec![("email".into(), data.to_vec())],
        files: Vec::new(),
    };
    let _ = parse(&raw);
    // The parsed mode, with the input split into named fields.
    let mut fields = Vec::new();
    for (i, part) in data.split(|&b| b == 0).enumerate().take(8) {
        let name = ["from", "headers", "charsets", "envelope", "text", "subject", "attachment-info", "spam_score"][i];
        fields.push((name.to_owned(), part.to_vec()));
    }
    let _ = parse(&Form { fields, files: Vec::new() });
});
