//! The stdout backends' shared sink (configured as `console`, like Django's
//! console e-mail backend): each kind's stdout backend runs its provider's
//! checks and prints the request instead of sending it.

use std::io::Write;
use std::sync::{Arc, Mutex};

use super::SendError;

/// Where the stdout backends write: stdout, or a buffer in tests.
pub type StdoutSink = Arc<Mutex<dyn Write + Send>>;

/// Writes `text` to `sink` and flushes it: what every stdout backend does
/// instead of sending.
pub fn print(sink: &StdoutSink, text: &str) -> Result<(), SendError> {
    let mut sink = sink
        .lock()
        .map_err(|_| SendError::transient("console output is unavailable"))?;
    sink.write_all(text.as_bytes())
        .and_then(|()| sink.flush())
        .map_err(|e| SendError::transient(format!("writing to the console failed: {e}")))
}
