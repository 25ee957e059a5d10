//! The connection limit, probed once every client has left: with the server holding no
//! connection, `max_connections` clients connect at once and must all be served; one more
//! must be refused with an error reply and closed; once one of the first closes, a new
//! client must be served again (its slot given back).

use super::{Oracle, Violations};
use crate::net::PORT;
use crate::transcript::{Actor, Event, Transcript};
use crate::window::{ClientStream, Windows};
use bytes::{Bytes, BytesMut};
use framesim_server::framing::Decoder;
use framesim_server::protocol::{encode_command, Framing, ReplyDecoder};
use framesim_server::{Command, Reply};
use std::fmt;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{sleep, timeout};

/// Most connections a probe opens: runs whose limit is higher (the 10,000 clients of
/// `default`, 1,000-client benchmarks) skip it rather than double their connections.
pub const PROBE_MAX: usize = 256;

/// How long a probing client waits for an answer.
const WAIT: Duration = Duration::from_secs(1);

/// What a probing client got for its PING.
enum Answer {
    /// PONG: served, the connection kept.
    Served(ClientStream),
    /// An error reply.
    Refused(ClientStream, String),
    /// Any other reply.
    Other(Reply),
    /// The connection ended with no reply.
    Closed,
    /// Nothing within [`WAIT`].
    Silent,
    /// No connection at all.
    NotConnected(String),
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Served(_) => f.write_str("served"),
            Answer::Refused(_, e) => write!(f, "refused (-{e})"),
            Answer::Other(r) => write!(f, "answered {r:?}"),
            Answer::Closed => f.write_str("closed with no reply"),
            Answer::Silent => write!(f, "left unanswered for {WAIT:?}"),
            Answer::NotConnected(e) => write!(f, "not connected ({e})"),
        }
    }
}

/// Probes the limit of `max` connections of a server speaking `framing`.
pub async fn probe(
    framing: &Framing,
    max: usize,
    windows: &Windows,
    t: &Transcript,
    v: &Violations,
) {
    let fail = |detail: String| v.fail(t, Actor::Sim, Oracle::ConnectionLimit, detail);
    let note = |text: String| t.record(Actor::Sim, Event::Note { text });
    let mut ping = BytesMut::new();
    encode_command(
        framing,
        &Command::new([Bytes::from_static(b"PING")]),
        &mut ping,
    )
    .expect("PING fits any header");
    let ping = ping.freeze();

    let mut asking = tokio::task::JoinSet::new();
    for _ in 0..max {
        let (framing, ping, windows) = (framing.clone(), ping.clone(), windows.clone());
        asking.spawn(async move { ask(&framing, &ping, windows).await });
    }
    let mut held = Vec::with_capacity(max);
    let mut wrong = None;
    while let Some(answer) = asking.join_next().await {
        match answer.expect("a probing client does not panic") {
            Answer::Served(stream) => held.push(stream),
            other => {
                wrong.get_or_insert(other);
            }
        }
    }
    if let Some(answer) = wrong {
        return fail(format!(
            "{} of {max} clients connecting at once were served (max_connections {max}); another was {answer}",
            held.len()
        ));
    }
    note(format!("probe: {max} connections at once, all served"));

    match ask(framing, &ping, windows.clone()).await {
        Answer::Refused(mut stream, _) => {
            let mut rest = [0u8; 64];
            if !matches!(timeout(WAIT, stream.read(&mut rest)).await, Ok(Ok(0) | Err(_))) {
                return fail(format!(
                    "connection {} was refused but not closed within {WAIT:?}",
                    max + 1
                ));
            }
        }
        answer => {
            return fail(format!(
                "connection {} with {max} open (max_connections {max}) was {answer}, not refused with an error and closed",
                max + 1
            ))
        }
    }
    note(format!("probe: connection {} refused and closed", max + 1));

    drop(held.pop());
    // Time for the server to see the close.
    sleep(Duration::from_millis(100)).await;
    match ask(framing, &ping, windows.clone()).await {
        Answer::Served(stream) => held.push(stream),
        answer => {
            return fail(format!(
                "after one of {max} connections closed, a new one was {answer}: its slot was not given back"
            ))
        }
    }
    note("probe: a closed connection's slot given back".into());
}

/// Connects and PINGs.
async fn ask(framing: &Framing, ping: &Bytes, windows: Windows) -> Answer {
    // As patient as a client: a server host coming back from a crash is not listening
    // for a moment.
    let mut tries = 0;
    let stream = loop {
        let connect = turmoil::net::TcpStream::connect(("server", PORT));
        let Ok(connected) = timeout(WAIT, connect).await else {
            return Answer::NotConnected(format!("not accepted within {WAIT:?}"));
        };
        match connected {
            Ok(stream) => break stream,
            Err(e) if tries == 100 => return Answer::NotConnected(e.to_string()),
            Err(_) => tries += 1,
        }
        sleep(Duration::from_millis(10)).await;
    };
    let mut stream = ClientStream::new(stream, windows);
    // A refusal may come (and the connection close) before the PING is out: what came is
    // read either way.
    let _ = stream.write_all(ping).await;
    let mut decoder = ReplyDecoder::new(framing, 1 << 16);
    let mut buf = BytesMut::new();
    let reply = timeout(WAIT, async {
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(reply)) => return Some(reply),
                Ok(None) => {}
                Err(_) => return None,
            }
            match stream.read_buf(&mut buf).await {
                Ok(1..) => {}
                _ => return None,
            }
        }
    })
    .await;
    match reply {
        Err(_) => Answer::Silent,
        Ok(None) => Answer::Closed,
        Ok(Some(Reply::Simple(s))) if s == "PONG" => Answer::Served(stream),
        Ok(Some(Reply::Error(e))) => Answer::Refused(stream, e),
        Ok(Some(other)) => Answer::Other(other),
    }
}
